# Make rsrsync the default SST method of a galera suite (GNU sed script).
# bin/mtr applies it to the suites' base configurations in the copied tree
# (suite/galera/galera_*.cnf, suite/galera_3nodes/galera_*.cnf, which every
# cluster test includes), never to the copy it runs with the stock method.
#
# mariadbd's compiled-in default wsrep_sst_method is rsync, so every galera
# test that names no method runs the rsync script whenever a node joins or
# restarts. Setting the method in the base [mysqld] group switches those
# tests to rsrsync; a test that chooses a method itself (mariabackup,
# mysqldump, per node or in its own [mysqld]) still overrides it, because
# its .cnf is read after the base file it includes.
/^\[mysqld\]$/a\
# rsrsync: the default SST method of this suite (tests/mtr/default-method.sed)\
wsrep_sst_method=rsrsync
