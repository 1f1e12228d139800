//! The text of `--help` (and of `check --help`).

const CHECK: &str = "\
CHECKING A NODE
  wsrep_sst_rsrsync check [OPTIONS]
      Prints the settings an SST would use and where each came from, what this
      node would send as a donor, whether the SST port can be bound, whether
      the TLS certificate, key and CA exist, match and verify, and the free
      space. Exit status 0 only when an SST would work; 1 when a check failed
      (each FAIL line says what to change); 22 for bad options.

      --defaults-file FILE         read only this option file
      --defaults-extra-file FILE   read this file after the usual ones
      --defaults-group-suffix SUF  also read [mysqld<SUF>], [sst<SUF>], ...
      --datadir DIR                the datadir (default: from the option files)
      --address HOST[:PORT]        the joiner's SST address to try (default:
                                   wsrep_sst_receive_address, else the host of
                                   wsrep_node_address, port 4444)
      --peer HOST[:PORT]           probe a node running `check --listen` (port
                                   default 4444): connect and do the TLS
                                   handshake as a donor would, compare versions
                                   and free space both ways; no data is sent
      --listen                     answer one probe on this node's SST address,
                                   as its joiner would
      --timeout SECONDS            how long --listen and --peer wait (300)
      --json                       one JSON document instead of the table

      HOST is a name or an IP address; an IPv6 address takes brackets when a
      port follows ([fd00::2]:4444); a bare one (fd00::2) means port 4444.
";

const MAIN: &str = "\
wsrep_sst_rsrsync: MariaDB Galera State Snapshot Transfer method 'rsrsync'

mariadbd runs this program itself when wsrep_sst_method = rsrsync; the
operator does not. Its options are those mariadbd passes to every SST script:

  --role joiner|donor            which side of the transfer this node is
  --address HOST[:PORT][/...]    the joiner's SST address (default port 4444)
  --datadir DIR                  the datadir
  --defaults-file FILE, --defaults-extra-file FILE, --defaults-group-suffix SUF
  --parent PID                   joiner: mariadbd's PID
  --progress 0|1                 print `total`/`complete` lines for mariadbd
  --binlog NAME, --binlog-index NAME, --log-basename NAME
  --gtid UUID:SEQNO, --gtid-domain-id N, --bypass (IST)
  --innodb-data-home-dir, --innodb-log-group-home-dir,
  --innodb-undo-directory, --aria-log-dir-path DIR
  --mysqld-args ...              mariadbd's own arguments (the rest of argv)

DRY RUN OF A DONOR
  wsrep_sst_rsrsync --role donor --dry-run [--rate RATE] [--json] OPTIONS...
      With the options mariadbd would pass, prints the files a donor would
      send, their sizes and, with --rate (bytes per second, binary units:
      200M, 1.5G), the time the copy would take (with rsrsync-lock=full, the
      time of the read lock). Never asks mariadbd to flush tables, never
      connects, writes nothing.

OTHER
  --help, -h       this text (check --help: the part about check)
  --version, -V    the version and the rsrsync protocol version

Configuration is read from my.cnf ([mysqld], [galera], ... and [sst]). See
man wsrep_sst_rsrsync, and README.md in /usr/share/doc/wsrep-sst-rsrsync.
";

/// The help text; `check` only for `check --help`.
pub(crate) fn text(check: bool) -> String {
    if check {
        CHECK.to_string()
    } else {
        format!("{MAIN}\n{CHECK}")
    }
}
