# Citus under two-phase commit (issue #23): a coordinator and two workers,
# the second behind a wire proxy (test/t/pgproxy.py) that holds, delays or
# cuts PREPARE TRANSACTION and COMMIT PREPARED on its way to that worker,
# as Citus's own failure tests do with mitmproxy.  Skipped when Citus is
# not installed.
#
# A transaction that wrote both workers commits on worker1 first and stays
# prepared on worker2 for as long as the proxy holds its COMMIT PREPARED.
# In that window, for each operation that reads what such a transaction
# wrote (src/settle.c, TWO-PHASE COMMIT):
#
#   1. redact_account() while an attach of an email to the account is
#      half committed: the redaction waits, then erases the email;
#   2. merge_accounts() while an attach to a source is half committed
#      (add_identifier() and the multi-identifier call): the identifier
#      ends on the survivor;
#   3. drop_identifier_type() while a create with that type is half
#      committed: the drop waits, then finds the identifier (2BP01);
#   4. remove_identifier() of an identifier whose attach is half
#      committed: it waits and removes it;
#   5. a create whose account row is still prepared while its other
#      identifier committed: find_account() finds the id, and get_account(),
#      add_identifier() and the multi-identifier call on that id wait and
#      see it (no 42704, no 23503);
#   6. the same with the COMMIT PREPARED lost (the proxy cuts the
#      connection; Citus's recovery commits the part later), with PREPARE
#      TRANSACTION delayed and cut (the transaction rolls back everywhere),
#      and with worker2 killed while its part is prepared;
#   7. a shard move of a group whose part of an attach is still prepared
#      on the move's source (its COMMIT PREPARED lost, recovery not yet
#      run): the move waits for the part, and it arrives on the new
#      placement (src/moves.c, A WRITE STILL PREPARED ON THE MOVE'S
#      SOURCE);
#   8. a transaction that read a shard before its group moved, then
#      writes it: Citus sends the write to the old copy, which refuses it
#      (40001) instead of keeping it until the copy is dropped (src/moves.c,
#      A WRITE ON A COPY A MOVE LEFT BEHIND);
#
# and after each, the invariants: no identifier on a merged account, no
# erased kind of identifier on a redacted account, no identifier of a
# dropped type, no account without identifiers, no identifier without its
# account, no SQLSTATE a caller is not told to expect, and no prepared
# transaction left once Citus has recovered.
use strict;
use warnings;

use File::Basename;
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib dirname(__FILE__);
use CitusTest;

CitusTest::skip_unless_citus();

# wal_level logical: 7 moves a shard group online
my @nodes = map { CitusTest::start_node($_, "wal_level = logical\nmax_replication_slots = 10\nmax_wal_senders = 10\n") }
	('coordinator', 'worker1', 'worker2');
CitusTest::use_nodes(@nodes);
my ($coord, $w1, $w2) = @nodes;

# the proxy in front of worker2: a socket of the same port number in a
# directory of its own; every node reaches worker2 through it
my $proxy_dir = tempdir(CLEANUP => 1);
chmod 0777, $proxy_dir;
my $rules = "$proxy_dir/rules.json";
my $proxy_log = "$proxy_dir/faults.log";
my $proxy = IPC::Run::start([ 'python3', dirname(__FILE__) . '/pgproxy.py',
	"$proxy_dir/.s.PGSQL." . $w2->port, $w2->host . '/.s.PGSQL.' . $w2->port, $rules, $proxy_log ]);
for (1 .. 50) { last if -S "$proxy_dir/.s.PGSQL." . $w2->port; usleep(100_000); }
ok(-S "$proxy_dir/.s.PGSQL." . $w2->port, 'the proxy listens in front of worker2');

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for @nodes;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('postgres', "SELECT citus_add_node('" . $w1->host . "', " . $w1->port . ")");
$coord->safe_psql('postgres', "SELECT citus_add_node('$proxy_dir', " . $w2->port . ")");
$coord->safe_psql('postgres', q{CREATE EXTENSION account; SELECT accounts.distribute(8);
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT accounts.create_identifier_type('user', 'nick')});

# the node (by name) that holds a route's shard
sub node_of_route { return route_node($_[0])->name; }
# a value of id_type whose shard is on node $want (and one per call)
my $serial = 0;
sub value_on
{
	my ($want, $id_type, $prefix) = @_;
	while (1)
	{
		$serial++;
		my $v = $id_type eq 'email' ? "$prefix$serial\@example.com" : "$prefix$serial";
		my $norm = $coord->safe_psql('postgres', qq{SELECT accounts.normalize_identifier('user', '$id_type', '$v')});
		return $v if node_of_route($coord->safe_psql('postgres', qq{SELECT accounts.identifier_route('user', '$id_type', '$norm')})) eq $want;
	}
}
# an account whose row is on worker1 (its reference id routes there)
sub account_on_w1
{
	my ($prefix) = @_;
	my $ref = value_on('worker1', 'reference_id', $prefix);
	return ($coord->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', '$ref')}), $ref);
}

# the proxy's rules, replaced at once (it reads them again when they change)
sub set_rules
{
	my ($json) = @_;
	open my $fh, '>', "$rules.tmp" or die;
	print $fh $json;
	close $fh;
	rename "$rules.tmp", $rules or die;
	usleep(20_000);
}
sub faults
{
	my ($what) = @_;
	open my $fh, '<', $proxy_log or return 0;
	my $n = grep { /^\Q$what\E/ } <$fh>;
	close $fh;
	return $n;
}
# wait until the proxy applied $what $n times in all
sub wait_fault
{
	my ($what, $n) = @_;
	for (1 .. 200) { return 1 if faults($what) >= $n; usleep(50_000); }
	return 0;
}
# a statement in the background: [handle, \stdout, \stderr]
sub bg
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		'-c', '\\set VERBOSITY verbose', '-c', $sql ], '>', \$out, '2>', \$err);
	return [ $h, \$out, \$err ];
}
sub finish
{
	my ($b) = @_;
	$b->[0]->finish;
	my ($out, $err) = (${ $b->[1] }, ${ $b->[2] });
	chomp $out;
	return ($out, $err);
}
# still running after a second, and settling on worker2: a backend there
# runs accounts_internal.settle() and waits for a transaction (the one
# prepared there)
sub waiting
{
	my ($b) = @_;
	my $settling = '';
	for (1 .. 20)
	{
		$settling = $w2->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
			WHERE query LIKE '%accounts_internal.settle(%' AND wait_event_type = 'Lock' AND wait_event = 'transactionid'});
		last if $settling > 0;
		usleep(100_000);
	}
	$b->[0]->pump_nb;
	return $settling > 0 && $b->[0]->pumpable;
}

# a count query on node, polled until it is above 0 or seconds have passed
# (a deadline, not a count of polls: CI runs every major at once), or, with
# a background statement [handle, ...], until that statement ended
sub poll_count
{
	my ($node, $sql, $seconds, $b) = @_;
	my $n = 0;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		$n = $node->safe_psql('postgres', $sql);
		last if $n > 0;
		if ($b) { $b->[0]->pump_nb; last unless $b->[0]->pumpable; }
		usleep(50_000);
	}
	return $n;
}

# the SQLSTATEs of an error output (psql VERBOSITY verbose: "ERROR:  XXXXX:")
sub sqlstates { my ($err) = @_; return join ' ', ($err =~ /ERROR:  ([0-9A-Z]{5}):/g); }

# the invariants over every row of the cluster, once Citus resolved what
# a lost link or a killed worker left prepared
sub audit_all
{
	my ($label) = @_;
	CitusTest::no_prepared($label);
	audit($label);
}

# 1. redaction while an attach is half committed
{
	my ($a) = account_on_w1('rd');
	my $email = value_on('worker2', 'email', 'rd');
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $attach = bg($coord, qq{SELECT accounts.add_identifier('$a', 'email', '$email')});
	ok(wait_fault('hold', $before + 1), 'redaction: the attach is committed on worker1, prepared on worker2');
	my $redact = bg($w1, qq{SELECT accounts.redact_account('$a')});
	ok(waiting($redact), 'redaction: it settles worker2, waiting for the part prepared there');
	set_rules('[]');
	my ($out, $err) = finish($attach);
	is($out, 't', 'redaction: the attach went through');
	($out, $err) = finish($redact);
	is($out, '1', 'redaction: then it erased the attached email') or diag($err);
	is($coord->safe_psql('postgres', qq{SELECT identifiers FROM accounts.get_account('$a')}) =~ /email/ ? 'kept' : 'erased', 'erased',
		'redaction: the redacted account has no email');
	audit_all('redaction');
}

# 2. a merge while an attach to a source is half committed, for both
# forms of attaching
for my $form ('add_identifier', 'the multi-identifier call')
{
	my ($src, $src_ref) = account_on_w1('ms');
	my ($into) = account_on_w1('mi');
	my $email = value_on('worker2', 'email', 'ms');
	my $sql = $form eq 'add_identifier'
		? qq{SELECT accounts.add_identifier('$src', 'email', '$email')}
		: qq{SELECT account_id FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$src_ref'), ('email', '$email')]::accounts.identifier[])};
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $attach = bg($coord, $sql);
	ok(wait_fault('hold', $before + 1), "merge, $form: the attach is half committed");
	my $merge = bg($w1, qq{SELECT accounts.merge_accounts('$into', ARRAY['$src']::uuid[])});
	ok(waiting($merge), "merge, $form: it settles worker2, waiting for the part prepared there");
	set_rules('[]');
	my ($out, $err) = finish($attach);
	is(sqlstates($err), '', "merge, $form: the attach went through");
	($out, $err) = finish($merge);
	is($out, '2', "merge, $form: the merge moved both identifiers of the source") or diag($err);
	is($coord->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'email', '$email')}), $into,
		"merge, $form: the email finds the survivor");
	audit_all("merge, $form");
}

# 3. a type drop while a create with that type is half committed
{
	my $ref = value_on('worker1', 'reference_id', 'dr');
	my $nick = value_on('worker2', 'nick', 'dr');
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $create = bg($coord, qq{SELECT created FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$ref'), ('nick', '$nick')]::accounts.identifier[])});
	ok(wait_fault('hold', $before + 1), 'type drop: the create is half committed');
	my $drop = bg($w1, q{SELECT accounts.drop_identifier_type('user', 'nick')});
	ok(waiting($drop), 'type drop: it settles worker2, waiting for the part prepared there');
	set_rules('[]');
	my ($out, $err) = finish($create);
	is($out, 't', 'type drop: the create went through');
	($out, $err) = finish($drop);
	like($err, qr/2BP01: identifier type "nick" of account type "user" is in use/, 'type drop: then it finds the identifier: 2BP01');
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM accounts.dist_identifier_types WHERE name = 'nick'}), '1', 'type drop: the type is still there');
	audit_all('type drop');
}

# 4. a removal of an identifier whose attach is half committed
{
	my ($a) = account_on_w1('rm');
	my $email = value_on('worker2', 'email', 'rm');
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $attach = bg($coord, qq{SELECT accounts.add_identifier('$a', 'email', '$email')});
	ok(wait_fault('hold', $before + 1), 'removal: the attach is half committed');
	my $remove = bg($w1, qq{SELECT accounts.remove_identifier('$a', 'email', '$email')});
	ok(waiting($remove), 'removal: it settles worker2, waiting for the part prepared there');
	set_rules('[]');
	finish($attach);
	my ($out, $err) = finish($remove);
	is($out, 't', 'removal: then it removes the identifier') or diag($err);
	is($coord->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'email', '$email')}), '', 'removal: it is gone');
	audit_all('removal');
}

# 5. a create whose account row is still prepared: the email routes to
# worker2 and comes first, so the account row is there; the reference id
# commits on worker1 first
{
	my $email = value_on('worker2', 'email', 'cr');
	my $ref = value_on('worker1', 'reference_id', 'cr');
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $create = bg($coord, qq{SELECT account_id FROM accounts.find_or_create_account('user', ARRAY[('email', '$email'), ('reference_id', '$ref')]::accounts.identifier[])});
	ok(wait_fault('hold', $before + 1), 'create: committed on worker1, prepared on worker2');
	my $id = $w1->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'reference_id', '$ref')});
	like($id, qr/^[0-9a-f-]{36}$/, 'create: find_account finds its reference id on worker1');
	my $get = bg($w1, qq{SELECT count(*) FILTER (WHERE (i).id_type IN ('email', 'reference_id')) FROM accounts.get_account('$id'), unnest(identifiers) i});
	my $add = bg($coord, qq{SELECT accounts.add_identifier('$id', 'nick', 'cr_nick')});
	my $multi = bg($w1, qq{SELECT account_id FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$ref'), ('nick', 'cr_nick2')]::accounts.identifier[])});
	ok(waiting($get), 'create: get_account() of that id settles worker2, waiting for the account row');
	set_rules('[]');
	my ($out, $err) = finish($create);
	is($out, $id, 'create: the create returns that id');
	($out, $err) = finish($get);
	is($out, '2', 'create: get_account() then shows the account with both of its identifiers') or diag($err);
	($out, $err) = finish($add);
	is($out . sqlstates($err), 't', 'create: add_identifier() on the id: no 42704');
	($out, $err) = finish($multi);
	is($out . sqlstates($err), $id, 'create: the multi-identifier call on its reference id: the account, no 23503');
	audit_all('create');
}

# 6a. a lost COMMIT PREPARED: Citus's recovery commits the prepared part,
# and a redaction waits for it
{
	my ($a) = account_on_w1('lc');
	my $email = value_on('worker2', 'email', 'lc');
	set_rules('[{"match": "COMMIT PREPARED", "action": "cut", "count": 1}]');
	my $before = faults('cut');
	my ($out, $err) = ('', '');
	my $rc = $coord->psql('postgres', qq{SELECT accounts.add_identifier('$a', 'email', '$email')}, stdout => \$out, stderr => \$err);
	ok(faults('cut') > $before, 'lost COMMIT PREPARED: the proxy cut it');
	is($rc . $out, '0t', 'lost COMMIT PREPARED: the attach committed (Citus warns and recovers the part)');
	($out, $err) = ('', '');
	$w1->psql('postgres', qq{SELECT accounts.redact_account('$a')}, stdout => \$out, stderr => \$err);
	is($out, '1', 'lost COMMIT PREPARED: the redaction waited for the recovery and erased the email') or diag($err);
	audit_all('lost COMMIT PREPARED');
}

# 6b. PREPARE TRANSACTION delayed: slower, and nothing else changes
{
	my $email = value_on('worker2', 'email', 'pd');
	my $ref = value_on('worker1', 'reference_id', 'pd');
	set_rules('[{"match": "PREPARE TRANSACTION", "action": "delay", "seconds": 2, "count": 1}]');
	my $before = faults('delay');
	is($coord->safe_psql('postgres', qq{SELECT created FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$ref'), ('email', '$email')]::accounts.identifier[])}),
		't', 'delayed PREPARE: the create commits');
	ok(faults('delay') > $before, 'delayed PREPARE: the proxy delayed it');
	audit_all('delayed PREPARE');
}

# 6c. PREPARE TRANSACTION lost: the transaction rolls back on every node
{
	my $email = value_on('worker2', 'email', 'pc');
	my $ref = value_on('worker1', 'reference_id', 'pc');
	set_rules('[{"match": "PREPARE TRANSACTION", "action": "cut", "count": 1}]');
	my ($out, $err) = ('', '');
	$coord->psql('postgres', qq{\\set VERBOSITY verbose\nSELECT created FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$ref'), ('email', '$email')]::accounts.identifier[])},
		stdout => \$out, stderr => \$err);
	is(sqlstates($err), '08006', 'lost PREPARE: the caller gets 08006 (connection failure, retryable)') or diag($err);
	set_rules('[]');
	is($coord->safe_psql('postgres', qq{SELECT coalesce(accounts.find_account('user', 'reference_id', '$ref')::text, 'none') || ' ' ||
		coalesce(accounts.find_account('user', 'email', '$email')::text, 'none')}), 'none none', 'lost PREPARE: nothing of the create is anywhere');
	is($coord->safe_psql('postgres', qq{SELECT created FROM accounts.find_or_create_account('user', ARRAY[('reference_id', '$ref'), ('email', '$email')]::accounts.identifier[])}),
		't', 'lost PREPARE: the retry creates the account');
	audit_all('lost PREPARE');
}

# 6d. worker2 killed while its part of an attach is prepared: after the
# restart Citus commits it, and a merge that came meanwhile got 08006 or
# waited, never a half-applied result
{
	my ($src) = account_on_w1('kw');
	my ($into) = account_on_w1('kx');
	my $email = value_on('worker2', 'email', 'kw');
	set_rules('[{"match": "COMMIT PREPARED", "action": "hold", "count": 1}]');
	my $before = faults('hold');
	my $attach = bg($coord, qq{SELECT accounts.add_identifier('$src', 'email', '$email')});
	ok(wait_fault('hold', $before + 1), 'killed worker: the attach is half committed');
	$w2->stop('immediate');
	set_rules('[]');
	my ($out, $err) = finish($attach);
	$w2->start;
	my ($merge_out, $merge_err);
	for my $try (1 .. 30)
	{
		($merge_out, $merge_err) = ('', '');
		$w1->psql('postgres', qq{\\set VERBOSITY verbose\nSELECT accounts.merge_accounts('$into', ARRAY['$src']::uuid[])},
			stdout => \$merge_out, stderr => \$merge_err);
		last if $merge_out ne '' || sqlstates($merge_err) !~ /^08/;
		usleep(500_000);
	}
	is($merge_out, '2', 'killed worker: the merge, retried after 08006, moved the attached email too') or diag($merge_err);
	is($coord->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'email', '$email')}), $into, 'killed worker: the email finds the survivor');
	audit_all('killed worker');
}

# 7. a shard move while a part of an attach is still prepared on the
# move's source.  The group of an email on worker2 moves to worker1
# online (logical replication); the move is held after its initial copy
# (Citus's own isolation tests' hook: citus.running_under_citus_test_suite
# makes the move take advisory lock (44000, 55152) there, which this test
# holds).  Meanwhile an attach of the email commits on worker1 and loses
# its COMMIT PREPARED to worker2, with the coordinator's 2PC recovery off,
# so its part stays prepared there.  Released, the move must wait at its
# block of writes for that part (a lock the part holds on worker2); once
# recovery commits it, the catch-up takes it to worker1.  Without that
# lock the move switches at once and the part, committed later on the
# old placement, is lost.
{
	$coord->safe_psql('postgres', q{ALTER SYSTEM SET citus.recover_2pc_interval = -1; SELECT pg_reload_conf()});
	my ($a) = account_on_w1('mv');
	my $email = value_on('worker2', 'email', 'mv');
	my $shard = $coord->safe_psql('postgres', qq{SELECT get_shard_id_for_distribution_column('accounts.dist_accounts',
		accounts.identifier_route('user', 'email', accounts.normalize_identifier('user', 'email', '$email')))});
	my $gate = bg($coord, q{SELECT pg_advisory_lock(44000, 55152); SELECT pg_sleep(600)});
	my $gated = poll_count($coord, q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 44000 AND objid = 55152 AND granted}, 60);
	my $move = bg($coord, qq{SET citus.running_under_citus_test_suite = on;
		SELECT citus_move_shard_placement($shard, '$proxy_dir', } . $w2->port . ", '" . $w1->host . "', " . $w1->port
		. q{, shard_transfer_mode := 'force_logical')});
	my $copied = poll_count($coord, q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 44000 AND objid = 55152 AND NOT granted}, 180, $move);
	ok($gated > 0 && $copied > 0, 'move: the move copied the group and is held before its block of writes');
	set_rules('[{"match": "COMMIT PREPARED", "action": "cut", "count": 1}]');
	my $before = faults('cut');
	my ($out, $err) = ('', '');
	my $rc = $coord->psql('postgres', qq{SELECT accounts.add_identifier('$a', 'email', '$email')}, stdout => \$out, stderr => \$err);
	set_rules('[]');
	ok(faults('cut') > $before, 'move: the proxy cut the COMMIT PREPARED of an attach to the group');
	is($rc . $out, '0t', 'move: the attach committed on worker1');
	is($w2->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '1', 'move: its part is prepared on worker2');
	$coord->safe_psql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 44000 AND objid = 55152 AND granted});
	finish($gate);
	my $blocked = poll_count($w2, q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock'}, 120, $move);
	ok($blocked > 0, 'move: released, it waits on worker2 for the prepared part before it switches');
	$coord->safe_psql('postgres', 'SELECT recover_prepared_transactions()');
	($out, $err) = finish($move);
	is(sqlstates($err), '', 'move: once recovery committed the part, the move finished') or diag($err);
	is($coord->safe_psql('postgres', qq{SELECT nodeport FROM citus_shards WHERE shardid = $shard}), $w1->port, 'move: the group is on worker1');
	is($coord->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'email', '$email')}), $a,
		'move: the attached email is on the new placement');
	$coord->safe_psql('postgres', q{ALTER SYSTEM RESET citus.recover_2pc_interval; SELECT pg_reload_conf()});
	audit_all('move');
}

# 8. a write on the copy a move left behind (src/moves.c, A WRITE ON A
# COPY A MOVE LEFT BEHIND).  The group of a reference id moves from
# worker2 to worker1, and the proxy holds the move's PREPARE TRANSACTION
# to worker2 while the move blocks writes to the group on every node.
# Meanwhile a multi-identifier call on worker1 probes the reference id on
# worker2 and waits in its hold of the group.  Released, the move
# switches the placement to worker1 and the call inserts.  Seen under
# load (a stress of repeated moves): the insert still went to worker2,
# into the old copy, and was lost when the copy was dropped.  Now the
# old copy refuses it (40001, nothing written), or the insert reaches
# the new placement; either way nothing is lost.
{
	my $ref = value_on('worker2', 'reference_id', 'pin');
	my $nick = value_on('worker1', 'nick', 'pin');
	my $shard = $coord->safe_psql('postgres', qq{SELECT get_shard_id_for_distribution_column('accounts.dist_accounts',
		accounts.identifier_route('user', 'reference_id', accounts.normalize_identifier('user', 'reference_id', '$ref')))});
	# Citus's metadata lock of a co-located shard group: an advisory lock
	# of class 8 (resource_lock.h); only this move takes it exclusively
	my $meta_lock = q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 8
		AND mode = 'ExclusiveLock' AND granted};
	set_rules('[{"match": "PREPARE TRANSACTION", "action": "hold"}]');
	my $move = bg($coord, qq{SELECT citus_move_shard_placement($shard, '$proxy_dir', } . $w2->port
		. ", '" . $w1->host . "', " . $w1->port . q{, shard_transfer_mode := 'force_logical')});
	my $blocking = poll_count($w1, $meta_lock, 120, $move);
	ok($blocking > 0 && faults('hold') > 0, 'old copy: the move blocks writes to the group, its PREPARE to worker2 held');
	my $call = bg($w1, qq{SELECT account_id FROM accounts.find_or_create_account('user',
		ARRAY[ROW('reference_id', '$ref'), ROW('nick', '$nick')]::accounts.identifier[])});
	my $waits = poll_count($w1, q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 8
		AND mode = 'ShareLock' AND NOT granted}, 60, $call);
	ok($waits > 0, 'old copy: a multi-identifier call on worker1 probed the group on worker2 and waits for the move');
	set_rules('[]');
	my ($out, $err) = finish($move);
	is(sqlstates($err), '', 'old copy: released, the move finished') or diag($err);
	is($coord->safe_psql('postgres', qq{SELECT nodeport FROM citus_shards WHERE shardid = $shard}), $w1->port,
		'old copy: the group is on worker1');
	($out, $err) = finish($call);
	my $found = $coord->safe_psql('postgres', qq{SELECT coalesce(accounts.find_account('user', 'reference_id', '$ref')::text, 'none')});
	if (sqlstates($err) eq '')
	{
		diag('old copy: the call reached the new placement');
		is($found, $out, 'old copy: the call succeeded, and its reference id is on the new placement');
	}
	else
	{
		diag('old copy: the call reached the old copy');
		is(sqlstates($err), '40001', 'old copy: the call, whose insert reached the old copy, is refused with 40001') or diag($err);
		like($err, qr/DETAIL:  A shard of the account tables moved to another node/, 'old copy: with the detail of a moved shard');
		is($found . ' ' . $coord->safe_psql('postgres', qq{SELECT count(*) FROM accounts.dist_identifiers WHERE value = '$nick'}),
			'none 0', 'old copy: and nothing of it was written');
	}
	my $id = $coord->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user',
		ARRAY[ROW('reference_id', '$ref'), ROW('nick', '$nick')]::accounts.identifier[])});
	is($w2->safe_psql('postgres', qq{SELECT accounts.find_account('user', 'reference_id', '$ref')}), $id,
		'old copy: called again, the account is found from every node');
	audit_all('old copy');
}

$proxy->kill_kill;
$_->stop for @nodes;
done_testing();
