# Adaptation rules for running MariaDB's galera mtr tests with rsrsync
# (GNU sed -E script). bin/mtr applies it to every file of the copied
# mysql-test tree that names rsync or stunnel (suite/galera*, suite/wsrep,
# include/), never to the copy it runs with the stock method.
#
# Only wording that belongs to the rsync script or to stunnel changes: what
# a test does and what it checks stay the same. Each rule is anchored on the
# exact line it adapts, so nothing else can match; bin/mtr saves the
# resulting diff (target/mtr-logs/adaptations.diff) and checks that every
# rule matched where expected.

# Rule 1 - the method. Option files (.cnf, .combinations) that select the
# stock method select ours: `wsrep_sst_method=rsync` and
# `wsrep-sst-method=rsync` (active lines only; commented-out ones, as in
# galera_ist_MDEV-28423.cnf, stay as they are). Combination names such as
# [rsync] are kept, so one test list serves both methods. Same test, same
# configuration, only the program mariadbd runs differs.
s/^([[:space:]]*wsrep[-_]sst[-_]method[[:space:]]*=[[:space:]]*)rsync([[:space:]]*)$/\1rsrsync\2/

# Rule 2 - stunnel is not a prerequisite. suite/galera/suite.pm skips every
# test that sources include/have_stunnel.inc, and the 'rsync' combination
# of galera_sst_cn_injection, when no stunnel binary is installed. rsrsync
# speaks TLS itself (rustls), so these tests must run here whether or not
# stunnel is installed: the skip condition becomes "never". The tests still
# configure and check TLS exactly as before.
s/^([[:space:]]*)unless which\("stunnel"\);$/\1unless 1; # rsrsync: TLS is built in, stunnel is not needed/

# Rule 3 - TLS log line. The rsync script logs
#   Using stunnel for SSL encryption: CA: '...', CAPATH='...', ssl-mode='...'
# once per SST and role; rsrsync logs, at the same moments,
#   Using TLS for SST encryption: CA: '...', CAPATH='...', ssl-mode='...'
# The patterns that are matched against the error logs ($assert_select,
# $assert_match) change; $assert_count and $assert_only_after stay, so the
# same number of encrypted transfers is still required. $assert_text is
# only the label echoed into the .result file and is left alone, so the
# expected results need no change.
s/^(--let \$assert_(select|match) = )Using stunnel for SSL encryption$/\1Using TLS for SST encryption/

# Rule 4 - SST/IST completion lines carry the method name: the rsync
# script logs "rsync IST completed on joiner", rsrsync "rsrsync IST
# completed on joiner". (The old pattern would also match our line, as a
# substring; the new one is stricter: it also proves rsrsync did it.)
s/^(--let \$assert_(select|match) = )rsync (SST|IST) (started|completed) on (joiner|donor)$/\1rsrsync \3 \4 on \5/

# Rule 5 - TLS unavailable (galera_sst_rsync_missing_stunnel, MDEV-28233).
# With MTR_SST_SIMULATE_NO_STUNNEL=1 the rsync script refuses because
# "the 'stunnel' binary was not found"; rsrsync refuses the same way (exit
# 2, no plaintext fallback) and logs "ssl-mode is set to 'REQUIRED', but TLS
# is not available (MTR_SST_SIMULATE_NO_STUNNEL): ...". The search pattern
# and the FOUND line that search_pattern_in_file.inc echoes into the
# .result file change together; the test still requires the joiner to
# refuse (mariadbd must fail to start) and the message to be logged.
s/^(--let SEARCH_PATTERN = ssl-mode is set to \.REQUIRED\., but )the \.stunnel\. binary was not found$/\1TLS is not available/
s/^(FOUND 1 \/ssl-mode is set to \.REQUIRED\., but )the \.stunnel\. binary was not found(\/ in mysqld\.2\.err)$/\1TLS is not available\2/

# Rule 6 - the configured default, as galera_defaults prints it. That test
# lists every wsrep variable with its value; with rsrsync made the suites'
# default method (default-method.sed) wsrep_sst_method shows rsrsync. Only
# this one expected value follows the configuration; the test still checks
# all the others. (galera_var_sst_method, which prints the variable after
# each assignment, is simply not run: see tests/mtr/sample.list.)
s/^(WSREP_SST_METHOD\t)rsync$/\1rsrsync/
