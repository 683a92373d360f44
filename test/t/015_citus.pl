# Scaling out on Citus (issue #15): a coordinator and two workers, each its
# own cluster on a unix socket.  Skipped when Citus is not installed
# (scripts/matrix.sh builds it from ../shared/citus in the PostgreSQL 17
# root).
#
#   1. an existing single-node database gains Citus: until
#      accounts.distribute() runs, every entry point on every node refuses
#      with 0A000 and writes nothing;
#   2. distribute() moves the existing accounts into distributed tables;
#   3. every function of the README, from the coordinator and from each
#      worker, with its guarantees (one account per identifier from any
#      node, case-insensitive routing, multi-identifier calls across
#      nodes, errors, nothing in the single-node tables);
#   4. 16 clients (8 in the short mode) over the three nodes on hot new
#      identifiers for 30 s (5 s in the short mode)
#      (test/clients/citus.py): no error, one account per identifier,
#      created = true once, no orphan, no dangling or split identifier,
#      every row on the shard its route names;
#   5. the same while a worker is restarted: only connection errors, for
#      the calls that needed it, and everything committed survives;
#   6. the lifecycle mixed in under load (merges, redactions, archives,
#      tags, removals): no identifier on a merged account, only reference
#      ids on redacted ones, no broken merge chain;
#   7. (3b and in 4 to 6) the change journal: every change's event in the journal of the
#      node that holds its account, written exactly when the change
#      commits (also with a worker restarted), read exactly once by a
#      consumer per node under load, redacted on every node, switched and
#      trimmed from any node;
#   8. amcheck on every shard index of every node.
use strict;
use warnings;

use File::Basename;
use lib dirname(__FILE__);
use CitusTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

CitusTest::skip_unless_citus();

my @nodes = map { CitusTest::start_node($_) } ('coordinator', 'worker1', 'worker2');
CitusTest::use_nodes(@nodes);
my ($coord, @workers) = @nodes;

# 1. an existing single-node database: accounts made before Citus
$coord->safe_psql('postgres', q{
	CREATE EXTENSION account;
	SELECT accounts.create_identifier_type('user', 'email', 'email');
	SELECT accounts.find_or_create_account('user', 'reference_id', 'old_' || g) FROM generate_series(1, 50) g;
	SELECT accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'old_multi'), ROW('email', 'old@example.com')]::accounts.identifier[]);
});
my $old_1 = $coord->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'OLD_1')});
my $old_multi = $coord->safe_psql('postgres', q{SELECT accounts.find_account('user', 'email', 'old@example.com')});

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for @nodes;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
for my $w (@workers)
{
	$coord->safe_psql('postgres', "SELECT citus_add_node('" . $w->host . "', " . $w->port . ")");
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '2', 'a coordinator and two workers');
$coord->safe_psql('postgres', q{
	CREATE TABLE inquiries (id int, ref text, account_id uuid);
	CREATE TRIGGER assign BEFORE INSERT ON inquiries FOR EACH ROW EXECUTE FUNCTION
	    accounts.assign_account('user', 'reference_id', 'ref', 'account_id');
});

my @calls = (
	[ 'find_or_create_account', q{SELECT * FROM accounts.find_or_create_account('user', 'reference_id', 'usr_1')} ],
	[ 'the composite form', q{SELECT * FROM accounts.find_or_create_account('user', ROW('reference_id', 'usr_1')::accounts.identifier)} ],
	[ 'find_or_create_accounts', q{SELECT * FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['usr_1', 'usr_2'])} ],
	[ 'the multi-identifier form', q{SELECT * FROM accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'usr_1'), ROW('email', 'a@example.com')]::accounts.identifier[])} ],
	[ 'find_account', q{SELECT accounts.find_account('user', 'reference_id', 'usr_1')} ],
	[ 'add_identifier', q{SELECT accounts.add_identifier(gen_random_uuid(), 'email', 'a@example.com')} ],
	[ 'merge_accounts', q{SELECT accounts.merge_accounts(gen_random_uuid(), ARRAY[gen_random_uuid()])} ],
	[ 'redact_account', q{SELECT accounts.redact_account(gen_random_uuid())} ],
	[ 'tag_account', q{SELECT accounts.tag_account(gen_random_uuid(), ARRAY['vip'])} ],
	[ 'get_account', q{SELECT * FROM accounts.get_account(gen_random_uuid())} ],
	[ 'find_accounts', q{SELECT * FROM accounts.find_accounts('user', 'reference_id', ARRAY['usr_1'])} ],
	[ 'create_account_type', q{SELECT accounts.create_account_type('customer')} ],
	[ 'create_identifier_type', q{SELECT accounts.create_identifier_type('user', 'phone', 'phone')} ],
	[ 'drop_identifier_type', q{SELECT accounts.drop_identifier_type('user', 'email')} ],
	[ 'drop_account_type', q{SELECT accounts.drop_account_type('customer')} ],
	[ 'remove_identifier', q{SELECT accounts.remove_identifier(gen_random_uuid(), 'reference_id', 'usr_1')} ],
	[ 'events_since', q{SELECT * FROM accounts.events_since(0)} ],
	[ 'normalize_identifier', q{SELECT accounts.normalize_identifier('user', 'reference_id', 'X')} ],
);
# the extension existed before Citus: the workers do not have it until
# distribute() (the coordinator is where it matters)
my %before = map { $_->name => $_->safe_psql('postgres', q{SELECT (SELECT count(*) FROM accounts.accounts) || '/' || (SELECT count(*) FROM accounts.identifiers)
	|| '/' || (SELECT count(*) FROM accounts.account_types) || '/' || (SELECT count(*) FROM accounts.identifier_types)}) } ($coord);
for my $node ($coord)
{
	for my $c (@calls)
	{
		my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . $c->[1]);
		like($err, qr/0A000: extension "account" is not distributed on this Citus cluster/,
			$node->name . ": before distribute(), $c->[0] refuses with 0A000");
	}
	is($node->safe_psql('postgres', q{SELECT error_code FROM accounts.try_find_or_create_account('user', 'reference_id', 'usr_1')}),
		'0A000', $node->name . ': try_find_or_create_account returns 0A000');
	is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM accounts.accounts) || '/' || (SELECT count(*) FROM accounts.identifiers)
		|| '/' || (SELECT count(*) FROM accounts.account_types) || '/' || (SELECT count(*) FROM accounts.identifier_types)}),
		$before{ $node->name }, $node->name . ': nothing written');
}
my ($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nINSERT INTO inquiries VALUES (1, 'usr_1')");
like($err, qr/0A000: extension "account" is not distributed/, 'the trigger refuses with 0A000');

# a database where the extension came after Citus (so Citus created it on
# the workers too): every node refuses before distribute()
for my $node (@nodes)
{
	$node->safe_psql('postgres', 'CREATE DATABASE fresh');
	$node->safe_psql('fresh', 'CREATE EXTENSION citus');
}
$coord->safe_psql('fresh', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('fresh', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @workers;
$coord->safe_psql('fresh', 'CREATE EXTENSION account');
for my $node (@workers)
{
	for my $c (@calls)
	{
		($ret, $out, $err) = $node->psql('fresh', "\\set VERBOSITY verbose\n" . $c->[1]);
		like($err, qr/0A000: extension "account" is not distributed on this Citus cluster/,
			$node->name . ": before distribute(), $c->[0] refuses with 0A000");
	}
	is($node->safe_psql('fresh', q{SELECT (SELECT count(*) FROM accounts.accounts) + (SELECT count(*) FROM accounts.identifiers)
		+ (SELECT count(*) FROM accounts.account_types WHERE name <> 'user')}),
		'0', $node->name . ': nothing written');
}

my $pre_events = $coord->safe_psql('postgres', 'SELECT count(*) FROM accounts.events');
ok($pre_events > 50, "the single-node journal has $pre_events events before distribute()");

# 2. distribute()
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.distribute(0)");
like($err, qr/22023: shard_count must be between 1 and 4096/, 'distribute(0): 22023');
$coord->safe_psql('postgres', 'SELECT accounts.distribute(8)');
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.distribute()");
like($err, qr/55000: the accounts are distributed already/, 'distribute() twice: 55000');
for my $w (@workers)
{
	is($w->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
		$coord->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}),
		$w->name . ': distribute() brought the extension to the worker');
}
($ret, $out, $err) = $workers[0]->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.distribute()");
like($err, qr/55000: accounts.distribute\(\) runs on the coordinator/, 'distribute() on a worker: 55000');
is($coord->safe_psql('postgres', q{SELECT string_agg(table_name::text || ':' || citus_table_type || ':' || shard_count, ' ' ORDER BY table_name::text)
	FROM citus_tables WHERE table_name::text LIKE 'accounts.%'}),
	'accounts.dist_account_fields:reference:1 accounts.dist_account_types:reference:1 accounts.dist_accounts:distributed:8 accounts.dist_event_redactions:reference:1 accounts.dist_events:distributed:8 accounts.dist_identifier_types:reference:1 accounts.dist_identifiers:distributed:8 accounts.dist_journal_settings:reference:1',
	'registries are reference tables, accounts, identifiers and events distributed over 8 shards');
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT colocation_id) FROM citus_tables WHERE table_name::text IN ('accounts.dist_accounts', 'accounts.dist_identifiers', 'accounts.dist_events')}),
	'1', 'accounts, identifiers and events are co-located');
is($coord->safe_psql('postgres', q{SELECT (SELECT count(*) FROM accounts.dist_accounts) || '/' || (SELECT count(*) FROM accounts.dist_identifiers)}),
	'51/52', 'the existing accounts and identifiers moved into the distributed tables');

# 3. every function from every node
my %made;	# per node: the accounts it made, for the journal's checks
for my $node (@nodes)
{
	my $n = $node->name;
	is($node->safe_psql('postgres', q{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'Old_1')}),
		"$old_1 false", "$n: an account made before distribute() is found");
	is($node->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'OLD_MULTI')}),
		$old_multi, "$n: and its other identifier too");
	my $id = $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'New_$n') WHERE created});
	like($id, qr/^[0-9a-f-]{36}$/, "$n: find_or_create_account creates");
	for my $other (@nodes)
	{
		is($other->safe_psql('postgres', qq{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'NEW_$n')}),
			"$id false", "$n: " . $other->name . ' finds it, whatever the case');
	}
	is($node->safe_psql('postgres', qq{SELECT accounts.account_route('$id') = accounts.identifier_route('user', 'reference_id', 'new_$n')}),
		't', "$n: the new account id carries its identifier's route");
	is($node->safe_psql('postgres', qq{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', ROW('reference_id', 'new_$n')::accounts.identifier)}),
		"$id false", "$n: the composite form");
	is($node->safe_psql('postgres', qq{SELECT string_agg(value || ':' || (account_id = '$id') || ':' || created, ' ' ORDER BY ord)
		FROM accounts.find_or_create_accounts('user', 'reference_id', ARRAY['new_$n', 'bulk_$n', 'BULK_$n']) WITH ORDINALITY AS t(value, account_id, created, ord)}),
		"new_$n:true:false bulk_$n:false:true BULK_$n:false:false", "$n: find_or_create_accounts, in input order, created once");
	my $multi = $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user',
		ARRAY[ROW('email', 'M_$n\@Example.com'), ROW('reference_id', 'multi_$n'), ROW('reference_id', 'multi2_$n')]::accounts.identifier[]) WHERE created});
	like($multi, qr/^[0-9a-f-]{36}$/, "$n: the multi-identifier form creates one account");
	is($node->safe_psql('postgres', qq{SELECT count(DISTINCT accounts.find_account('user', t, v)) || ' ' || bool_and(accounts.find_account('user', t, v) = '$multi')
		FROM (VALUES ('email', 'm_$n\@example.com'), ('reference_id', 'MULTI_$n'), ('reference_id', 'multi2_$n')) x(t, v)}),
		'1 true', "$n: every identifier of it finds it");
	is($node->safe_psql('postgres', qq{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user',
		ARRAY[ROW('reference_id', 'multi_$n'), ROW('reference_id', 'multi3_$n')]::accounts.identifier[])}),
		"$multi false", "$n: a multi call with one known identifier attaches the other");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT * FROM accounts.find_or_create_account('user',
		ARRAY[ROW('reference_id', 'multi_$n'), ROW('reference_id', 'new_$n')]::accounts.identifier[])});
	like($err, qr/21000: the identifiers belong to more than one account/, "$n: identifiers of two accounts: 21000");
	is($node->safe_psql('postgres', q{SELECT accounts.find_account('user', 'reference_id', 'nobody')}), '', "$n: find_account of nobody is NULL");
	is($node->safe_psql('postgres', qq{SELECT string_agg(value || ':' || coalesce((account_id = '$id')::text, 'null'), ' ') FROM accounts.find_accounts('user', 'reference_id', ARRAY['NEW_$n', 'nobody'])}),
		"NEW_$n:true nobody:null", "$n: find_accounts");
	is($node->safe_psql('postgres', qq{SELECT accounts.add_identifier('$id', 'email', 'add_$n\@example.com')}), 't', "$n: add_identifier adds");
	is($node->safe_psql('postgres', qq{SELECT accounts.add_identifier('$id', 'email', 'ADD_$n\@example.com')}), 'f', "$n: add_identifier again: false");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.add_identifier('$multi', 'email', 'add_$n\@example.com')});
	like($err, qr/23505: email "add_$n\@example.com" belongs to another account/, "$n: add_identifier of another account's identifier: 23505");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . q{SELECT accounts.add_identifier('00000000-0000-7000-8000-000000000000', 'email', 'x@example.com')});
	like($err, qr/42704: account 00000000-0000-7000-8000-000000000000 does not exist/, "$n: add_identifier to no account: 42704");
	is($node->safe_psql('postgres', qq{SELECT account_id || ' ' || account_type || ' ' || status || ' ' || identifiers::text FROM accounts.get_account('$id')}),
		qq{$id user active {"(email,add_$n\@example.com)","(reference_id,new_$n)"}}, "$n: get_account, identifiers from two shards");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM accounts.get_account(gen_random_uuid())}), '0', "$n: get_account of no account: no row");
	is($node->safe_psql('postgres', q{SELECT accounts.normalize_identifier('user', 'email', ' X@Y.COM ')}), 'x@y.com', "$n: normalize_identifier");
	is($node->safe_psql('postgres', qq{SELECT coalesce(error_code, 'ok') || ' ' || coalesce(account_id = '$id', false) FROM accounts.try_find_or_create_account('user', 'reference_id', 'new_$n')}),
		'ok true', "$n: try_find_or_create_account finds");
	is($node->safe_psql('postgres', q{SELECT error_code || ' ' || (account_id IS NULL) FROM accounts.try_find_or_create_account('user', ROW('email', 'not-an-email')::accounts.identifier)}),
		'22P02 true', "$n: try_ returns an error as data");
	is($node->safe_psql('postgres', q{BEGIN; SELECT error_code FROM accounts.try_find_or_create_account('nope', 'reference_id', 'x');
		SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'after_try_} . $n . q{'); COMMIT;}),
		"42704\nt", "$n: and the transaction goes on");
	for my $bad ([ q{('nope', 'reference_id', 'x')}, '42704: account type "nope" does not exist' ],
				 [ q{('user', 'nope', 'x')}, '42704: identifier type "nope" does not exist for account type "user"' ],
				 [ q{('user', 'email', 'not-an-email')}, '22P02: invalid email value "not-an-email"' ],
				 [ q{('user', 'reference_id', '   ')}, '22023: reference_id value "   " is empty' ],
				 [ q{('user', 'reference_id', NULL)}, '22004: argument "value" must not be null' ])
	{
		($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.find_or_create_account$bad->[0]");
		like($err, qr/\Q$bad->[1]\E/, "$n: find_or_create_account$bad->[0]: $bad->[1]");
	}
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN READ ONLY; SELECT * FROM accounts.find_or_create_account('user', 'reference_id', 'ro_$n')");
	like($err, qr/25006: cannot create an account/, "$n: a read-only transaction: 25006");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.events_since(-1)");
	like($err, qr/22023: argument "after" must not be negative/, "$n: events_since(-1): 22023");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.set_journal('nope', true)");
	like($err, qr/42704: account type "nope" does not exist/, "$n: set_journal of an unknown account type: 42704");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.trim_events(NULL)");
	like($err, qr/22004: argument "before" must not be null/, "$n: trim_events(NULL): 22004");

	# the lifecycle
	is($node->safe_psql('postgres', qq{SELECT accounts.tag_account('$id', ARRAY['VIP', ' gold '])}), '{gold,vip}', "$n: tag_account");
	is($node->safe_psql('postgres', qq{SELECT '$id' IN (SELECT accounts.accounts_with_tag('user', 'vip'))}), 't', "$n: accounts_with_tag");
	is($node->safe_psql('postgres', qq{SELECT accounts.untag_account('$id', ARRAY['gold'])}), '{vip}', "$n: untag_account");
	is($node->safe_psql('postgres', qq{SELECT accounts.archive_account('$id') || ' ' || accounts.archive_account('$id')}), 'true false', "$n: archive_account, twice");
	is($node->safe_psql('postgres', qq{SELECT status FROM accounts.get_account('$id')}), 'archived', "$n: get_account shows it archived");
	is($node->safe_psql('postgres', qq{SELECT account_id = '$id' AND NOT created FROM accounts.find_or_create_account('user', 'reference_id', 'new_$n')}),
		't', "$n: an archived account is still found");
	is($node->safe_psql('postgres', qq{SELECT accounts.restore_account('$id')}), 't', "$n: restore_account");
	is($node->safe_psql('postgres', qq{SELECT accounts.remove_identifier('$id', 'email', 'ADD_$n\@example.com') || ' ' || accounts.remove_identifier('$id', 'email', 'add_$n\@example.com')}),
		'true false', "$n: remove_identifier, twice");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.remove_identifier('$id', 'reference_id', 'new_$n')});
	like($err, qr/2BP01: cannot remove the last identifier/, "$n: remove_identifier of the last one: 2BP01");
	my ($ma, $mb) = map { $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user',
		ARRAY[ROW('reference_id', '${_}_$n'), ROW('email', '${_}_$n\@example.com')]::accounts.identifier[])}) } ('ma', 'mb');
	$node->safe_psql('postgres', qq{SELECT accounts.tag_account('$mb', ARRAY['from_b'])});
	is($node->safe_psql('postgres', qq{SELECT accounts.merge_accounts('$ma', ARRAY['$mb']::uuid[])}), '2', "$n: merge_accounts moves two identifiers");
	is($node->safe_psql('postgres', qq{SELECT accounts.resolve_account('$mb') = '$ma' AND accounts.find_account('user', 'email', 'mb_$n\@example.com') = '$ma'}),
		't', "$n: the source resolves to the target, which has its identifiers");
	is($node->safe_psql('postgres', qq{SELECT status || ' ' || merged_into || ' ' || cardinality(identifiers) FROM accounts.get_account('$mb')}),
		"merged $ma 0", "$n: the source is merged and empty");
	is($node->safe_psql('postgres', qq{SELECT tags FROM accounts.get_account('$ma')}), '{from_b}', "$n: the tags went along");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.merge_accounts('$ma', ARRAY['$mb']::uuid[])});
	like($err, qr/55000: account $mb was already merged/, "$n: merging it again: 55000");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.add_identifier('$mb', 'email', 'late_$n\@example.com')});
	like($err, qr/55000: account $mb was merged into account $ma/, "$n: attaching to the merged account: 55000");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN ISOLATION LEVEL REPEATABLE READ;\n" . qq{SELECT accounts.merge_accounts('$id', ARRAY['$ma']::uuid[])});
	like($err, qr/0A000: merge_accounts\(\) runs under READ COMMITTED on a distributed cluster/, "$n: merge under REPEATABLE READ: 0A000");
	is($node->safe_psql('postgres', qq{SELECT accounts.redact_account('$ma') || ' ' || accounts.redact_account('$ma')}), '2 0', "$n: redact_account erases the emails, then nothing");
	is($node->safe_psql('postgres', qq{SELECT status || ' ' || identifiers::text FROM accounts.get_account('$ma')}),
		qq{redacted {"(reference_id,ma_$n)","(reference_id,mb_$n)"}}, "$n: a redacted account keeps its reference ids");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.add_identifier('$ma', 'email', 'again_$n\@example.com')});
	like($err, qr/55000: account $ma is redacted/, "$n: attaching to the redacted account: 55000");
	$made{$n} = { id => $id, multi => $multi, ma => $ma, mb => $mb };
}

# 3b. the change journal, from every node (4 to 6 check it under load)
is($coord->safe_psql('postgres', 'SELECT count(*) FROM accounts.events_since(0, 100000)'), $pre_events,
	'the coordinator (no shards) keeps the events from before distribute(), and gets no new ones');
for my $n (sort keys %made)
{
	my $m = $made{$n};
	my $home = account_node($m->{id})->name;
	my $ev = events_of($m->{id});
	is(join(' ', map { $_->[0] } @$ev), join(' ', ($home) x 7), "$n: the account's events are all on $home, which holds its shard");
	is(join(' ', map { $_->[1] } @$ev),
		'account.created identifier.added account.tagged account.untagged account.archived account.restored identifier.removed',
		"$n: one event per change, in order (a call that changed nothing wrote none)");
	like($ev->[0][2], qr/^\{"identifiers": \[\{"value": "new_$n", "id_type": "reference_id"\}\]\}$/, "$n: account.created names its identifier, normalized");
	is($ev->[1][2], qq({"value": "add_$n\@example.com", "id_type": "email"}), "$n: identifier.added names it");
	is($ev->[2][2], '{"tags": ["gold", "vip"]}', "$n: account.tagged names the tags added");
	$ev = events_of($m->{multi});
	is(join(' ', map { "$_->[0]:$_->[1]" } @$ev), join(' ', map { account_node($m->{multi})->name . ":$_" } qw(account.created identifier.added)),
		"$n: the multi-identifier account: created with its identifiers from two shards, then one attached");
	like($ev->[0][2], qr/"identifiers": \[(\{[^}]+\}, ){2}\{[^}]+\}\]/, "$n: its account.created names all three identifiers");
	$ev = events_of($m->{mb});
	is(join(' ', map { $_->[1] } @$ev), 'account.created account.tagged account.merged', "$n: the merged source: created, tagged, merged");
	is($ev->[2][2], qq({"into": "$m->{ma}"}), "$n: account.merged names the target");
	is(scalar(grep { $_->[2] =~ /\@example\.com/ } @$ev, @{ events_of($m->{ma}) }), 0,
		"$n: the redaction erased the emails from the events of the account and of the one merged into it, on their nodes");
	is(join(' ', map { $_->[1] } grep { $_->[1] eq 'account.redacted' } @{ events_of($m->{ma}) }), 'account.redacted', "$n: account.redacted, once");
}
# a redaction reaches the events from before distribute(), on the coordinator
my ($old_created) = grep { $_->[1] eq 'account.created' } @{ events_of($old_multi) };
like($old_created->[2], qr/old\@example\.com/, 'the coordinator has the event of an account made before distribute()');
is($workers[1]->safe_psql('postgres', qq{SELECT accounts.redact_account('$old_multi')}), '1', 'a worker redacts that account');
($old_created) = grep { $_->[1] eq 'account.created' } @{ events_of($old_multi) };
unlike($old_created->[2], qr/old\@example\.com/, "and the coordinator's old event no longer has the email");
# the journal switched off from one node is off on every node
$workers[0]->safe_psql('postgres', q{SELECT accounts.set_journal('user', false)});
is(join(' ', map { $_->safe_psql('postgres', q{SELECT enabled FROM accounts.dist_journal_settings WHERE account_type = 'user'}) } @nodes),
	'f f f', 'set_journal() on a worker switches every node');
my $nj = $workers[1]->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'no_journal')});
is(scalar(@{ events_of($nj) }), 0, 'a create with the journal off writes no event on any node');
$coord->safe_psql('postgres', q{SELECT accounts.set_journal('user', true)});
my $yj = $workers[1]->safe_psql('postgres', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'journal_again')});
is(scalar(@{ events_of($yj) }), 1, 'and on again');
# a rolled-back change leaves no event
my $before_rb = join ',', map { scalar @{ journal($_) } } @nodes;
$workers[0]->safe_psql('postgres', q{BEGIN; SELECT accounts.find_or_create_account('user', 'reference_id', 'rolled_back');
	SELECT accounts.tag_account(accounts.find_account('user', 'reference_id', 'journal_again'), ARRAY['x']); ROLLBACK});
is(join(',', map { scalar @{ journal($_) } } @nodes), $before_rb, 'a rolled-back transaction leaves no event on any node');

# a generic plan of a router statement makes Citus plan the local shard's
# query again and keep it at every run (src/dist.c, statement()): the
# statements run custom plans, so a worker's backend stays flat over
# thousands of calls on its own shards
my @mem = split /\n/, $workers[0]->safe_psql('postgres', q{
	SELECT count(accounts.find_account('user', 'reference_id', 'mem_' || g)) FROM generate_series(1, 300) g;
	SELECT sum(total_bytes) FROM pg_backend_memory_contexts;
	SELECT count(accounts.find_account('user', 'reference_id', 'mem_' || g)) FROM generate_series(1, 3000) g;
	SELECT sum(total_bytes) FROM pg_backend_memory_contexts;});
cmp_ok($mem[3] - $mem[1], '<', 2 * 1024 * 1024,
	"3,000 lookups in one backend of a worker leave its memory where it was (grew by @{[ $mem[3] - $mem[1] ]} bytes)");
# registry changes (reference tables: every node sees them at once)
$coord->safe_psql('postgres', q{SELECT accounts.create_account_type('customer')});
$workers[0]->safe_psql('postgres', q{SELECT accounts.create_identifier_type('customer', 'phone', 'phone')});
is($workers[1]->safe_psql('postgres', q{SELECT created FROM accounts.find_or_create_account('customer', 'phone', '+1 (415) 555-0100')}),
	't', 'a type created on the coordinator and on a worker is used on another worker');
is($coord->safe_psql('postgres', q{SELECT created FROM accounts.find_or_create_account('customer', 'reference_id', 'c1')}),
	't', 'the new account type has its reference_id');
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.create_account_type('customer')");
like($err, qr/42710: account type "customer" already exists/, 'create_account_type twice: 42710');

# dropping types, from any node
$workers[0]->safe_psql('postgres', q{SELECT accounts.create_identifier_type('customer', 'nick')});
$workers[1]->safe_psql('postgres', q{SELECT accounts.drop_identifier_type('customer', 'nick')});
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.find_or_create_account('customer', 'nick', 'x')");
like($err, qr/42704: identifier type "nick" does not exist for account type "customer"/, 'a dropped identifier type is gone on every node');
($ret, $out, $err) = $workers[1]->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.drop_identifier_type('customer', 'phone')");
like($err, qr/2BP01: identifier type "phone" of account type "customer" is in use/, 'dropping an identifier type in use: 2BP01');
($ret, $out, $err) = $workers[0]->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.drop_account_type('customer')");
like($err, qr/2BP01: account type "customer" is in use/, 'dropping an account type in use: 2BP01');
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.drop_identifier_type('customer', 'nope')");
like($err, qr/42704: identifier type "nope" does not exist/, 'dropping an unknown identifier type: 42704');
$coord->safe_psql('postgres', q{SELECT accounts.create_account_type('temp')});
$workers[0]->safe_psql('postgres', q{SELECT accounts.drop_account_type('temp')});
($ret, $out, $err) = $workers[1]->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM accounts.find_or_create_account('temp', 'reference_id', 'x')");
like($err, qr/42704: account type "temp" does not exist/, 'a dropped account type is gone on every node');
# registry events: all in the journal of the node of route 0, in order
{
	my $home = route_node(0);
	my @reg = map { "$_->[2]:" . ($_->[3] =~ /"name": "([^"]+)"/)[0] } grep { $_->[1] eq '' } @{ journal($home) };
	is(join(' ', @reg), 'account_type.created:customer identifier_type.created:reference_id identifier_type.created:phone '
		. 'identifier_type.created:nick identifier_type.dropped:nick account_type.created:temp identifier_type.created:reference_id account_type.dropped:temp',
		'registry changes from every node are events on ' . $home->name . ' (route 0), in order; failed ones wrote none');
	is(scalar(grep { $_->[1] eq '' } map { @{ journal($_) } } grep { $_ != $home && $_ != $coord } @nodes), 0, 'and on no other worker');
}
# a drop waits for a creator of its type on another node, then sees its
# account (the creator's lock on that node's copy of the registry)
$coord->safe_psql('postgres', q{SELECT accounts.create_account_type('race')});
my $creator = $workers[0]->background_psql('postgres');
$creator->query_safe(q{BEGIN; SELECT accounts.find_or_create_account('race', 'reference_id', 'r1')});
my ($drop_out, $drop_err) = ('', '');
my $dropper = IPC::Run::start([ 'psql', '-X', '-d', $workers[1]->connstr('postgres'), '-c', '\\set VERBOSITY verbose', '-c',
	q{SELECT accounts.drop_account_type('race')} ], '>', \$drop_out, '2>', \$drop_err);
sleep 2;
ok($dropper->pumpable, 'drop_account_type waits for a creator of its type in progress on another node');
$creator->query_safe('COMMIT');
$creator->quit;
$dropper->finish;
like($drop_err, qr/2BP01: account type "race" is in use/, 'and then finds its account: 2BP01');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM accounts.dist_accounts WHERE account_type = 'race'}), '1', 'the account is there, with its type');
# a create is one statement (src/dist_create.c): the account's row, whose
# trigger on the shard inserts the identifier first.  A backend that has
# been creating goes straight to the create, and still finds a key that
# exists (the create inserts nothing, then the probe finds it)
for my $node ($coord, $workers[0])
{
	my $n = $node->name;
	is($node->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE created) FROM generate_series(1, 30) g,
		accounts.find_or_create_account('user', 'reference_id', 'run_${n}_' || g);
		SELECT (account_id = accounts.find_account('user', 'reference_id', 'new_$n')) || ' ' || created
		  FROM accounts.find_or_create_account('user', 'reference_id', 'NEW_$n')}),
		"30\ntrue false", "$n: after a run of creates, an existing key is found, not created");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM accounts.dist_identifiers i
		JOIN accounts.dist_accounts a ON a.id = i.account_id AND a.route = i.route
		WHERE i.value LIKE 'run_${n}_%' AND a.status = 'active' AND a.event_detail IS NULL}),
		'30', "$n: each with its account, active, on its identifier's shard group");
}
# a row without a status is refused unless it names one identifier: the
# trigger's protocol (39P01), nothing written
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\n" . q{INSERT INTO accounts.dist_accounts (route, id, account_type, status, event_detail)
	VALUES (accounts.account_route('01a2490e-0000-7000-8000-000000000001'), '01a2490e-0000-7000-8000-000000000001', 'user', NULL, '{"identifiers": []}')});
like($err, qr/39P01: .*event_detail must name exactly one identifier/, 'a row without a status and no identifier: 39P01');
# a cluster distributed before the trigger: the three statements, until
# distribute() runs again; a row without a status is refused there (NOT
# NULL), never stored without its identifier
$coord->safe_psql('postgres', q{SET citus.enable_unsafe_triggers = on; DROP TRIGGER dist_accounts_by_identifier ON accounts.dist_accounts});
for my $node ($coord, $workers[1])
{
	my $n = $node->name;
	my $id = $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'old_way_$n') WHERE created});
	like($id, qr/^[0-9a-f-]{36}$/, "$n: without the trigger, find_or_create_account creates");
	is($coord->safe_psql('postgres', qq{SELECT count(*) FROM accounts.dist_identifiers WHERE account_id = '$id'}), '1', "$n: with its identifier");
}
($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\n" . q{INSERT INTO accounts.dist_accounts (route, id, account_type, status, event_detail)
	VALUES (accounts.account_route('01a2490e-0000-7000-8000-000000000001'), '01a2490e-0000-7000-8000-000000000001', 'user', NULL,
	        '{"identifiers": [{"id_type": "reference_id", "value": "x"}]}')});
like($err, qr/23502: null value in column "status"/, 'without the trigger, a row without a status is refused');
($ret, $out, $err) = $coord->psql('postgres', q{SELECT accounts.distribute()});
like($err, qr/the update of the distributed tables is finished/, 'distribute() again makes the trigger');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'dist_accounts_by_identifier'}), '1', 'and it is there');
is($workers[1]->safe_psql('postgres', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'new_way')}), 't',
	'a create after it, one statement again');
# the trigger, on a local table of the coordinator and on a distributed table
$coord->safe_psql('postgres', q{INSERT INTO inquiries VALUES (1, 'NEW_worker1'), (2, 'trig_1'), (3, NULL)});
is($coord->safe_psql('postgres', q{SELECT string_agg(coalesce((account_id = accounts.find_account('user', 'reference_id', coalesce(ref, 'x')))::text, 'null'), ' ' ORDER BY id) FROM inquiries}),
	'true true null', 'assign_account() sets the account (and NULL for a NULL source)');
# a merge re-points the rows assign_account() manages (a local table of the
# coordinator, where the merge runs), as the table's owner
$coord->safe_psql('postgres', q{INSERT INTO inquiries VALUES (10, 'rp_a'), (11, 'rp_b')});
$coord->safe_psql('postgres', q{SELECT accounts.merge_accounts(accounts.find_account('user', 'reference_id', 'rp_a'),
	ARRAY[accounts.find_account('user', 'reference_id', 'rp_b')])});
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT account_id) || ' ' || bool_and(account_id = accounts.find_account('user', 'reference_id', 'rp_a'))
	FROM inquiries WHERE id IN (10, 11)}), '1 true', 'merge_accounts re-points the trigger-managed rows');

# 3c. the account record and identity resolution (1.8), from every node
$coord->safe_psql('postgres', q{SELECT accounts.create_account_type('person');
	SELECT accounts.create_identifier_type('person', 'email', 'email');
	SELECT accounts.create_identifier_type('person', 'device', 'text');
	SELECT accounts.create_field('person', 'name');
	SELECT accounts.create_field('person', 'birthdate', 'date');
	SELECT accounts.create_field('person', 'plan', personal => false);
	SELECT accounts.set_identifier_limit('person', 'reference_id', 1)});
for my $node (@nodes)
{
	my $n = $node->name;
	is($node->safe_psql('postgres', q{SELECT string_agg(name || ':' || kind || ':' || personal, ' ' ORDER BY name) FROM accounts_internal.store_fields('person')}),
		'birthdate:date:true name:text:true plan:text:false', "$n: the fields declared on the coordinator");
	my $r = $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('person', 'reference_id', 'r_$n')});
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.add_identifier('$r', 'reference_id', 'r2_$n')});
	like($err, qr/23514: account $r would hold 2 identifiers of type "reference_id"/, "$n: add_identifier beyond the limit: 23514");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT * FROM accounts.find_or_create_account('person',
		ARRAY[ROW('reference_id', 'r_$n'), ROW('reference_id', 'r3_$n')]::accounts.identifier[], on_conflict => 'merge')});
	like($err, qr/23514: account $r would hold 2 identifiers of type "reference_id"/, "$n: the multi-identifier call beyond it: 23514");
	my ($a, $b, $c) = map { $node->safe_psql('postgres', qq{SELECT account_id FROM accounts.find_or_create_account('person', 'device', 'd${_}_$n')}) } ('a', 'b', 'c');
	is($node->safe_psql('postgres', qq{SELECT accounts.set_fields('$c', '{"name": " Cy ", "birthdate": "1980-02-03", "plan": "pro"}')}),
		'{"name": "Cy", "plan": "pro", "birthdate": "1980-02-03"}', "$n: set_fields, normalized");
	is($node->safe_psql('postgres', qq{SELECT fields FROM accounts.get_account('$c')}),
		'{"name": "Cy", "plan": "pro", "birthdate": "1980-02-03"}', "$n: get_account shows them");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.set_fields('$c', '{"name": "x", "nick": "y"}')});
	like($err, qr/42704: field "nick" is not declared for account type "person"/, "$n: an undeclared field: 42704");
	is($node->safe_psql('postgres', qq{SELECT fields->>'name' FROM accounts.get_account('$c')}), 'Cy', "$n: and nothing written");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT * FROM accounts.find_or_create_account('person',
		ARRAY[ROW('device', 'da_$n'), ROW('device', 'db_$n')]::accounts.identifier[])});
	like($err, qr/21000: the identifiers belong to more than one account/, "$n: without on_conflict: 21000");
	# a and c linked, with a new identifier: one account, the oldest (a), with c's fields
	is($node->safe_psql('postgres', qq{SELECT account_id = '$a' AND NOT created FROM accounts.find_or_create_account('person',
		ARRAY[ROW('device', 'dc_$n'), ROW('device', 'da_$n'), ROW('device', 'x_$n')]::accounts.identifier[], on_conflict => 'merge')}),
		't', "$n: a merging call: the oldest survives");
	is($node->safe_psql('postgres', qq{SELECT status || ' ' || merged_into FROM accounts.get_account('$c')}), "merged $a", "$n: the other is merged into it");
	is($node->safe_psql('postgres', qq{SELECT fields::text || ' ' || cardinality(identifiers) FROM accounts.get_account('$a')}),
		'{"name": "Cy", "plan": "pro", "birthdate": "1980-02-03"} 3', "$n: the survivor took the identifiers and the fields");
	for my $other (@nodes)
	{
		is($other->safe_psql('postgres', qq{SELECT accounts.find_account('person', 'device', 'x_$n') = '$a' AND accounts.find_account('person', 'device', 'dc_$n') = '$a'}),
			't', "$n: " . $other->name . ' finds every identifier on the survivor');
	}
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.set_fields('$c', '{"name": "x"}')});
	like($err, qr/55000: account $c was merged into account $a/, "$n: a merged account takes no fields: 55000");
	($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN ISOLATION LEVEL REPEATABLE READ;\n" . qq{SELECT * FROM accounts.find_or_create_account('person',
		ARRAY[ROW('device', 'da_$n'), ROW('device', 'db_$n')]::accounts.identifier[], on_conflict => 'merge')});
	like($err, qr/0A000: find_or_create_account\(\) with on_conflict => 'merge' runs under READ COMMITTED on a distributed cluster/,
		"$n: a merging call under REPEATABLE READ: 0A000");
	is($node->safe_psql('postgres', qq{SELECT accounts.redact_account('$a') || ' ' || (SELECT fields::text FROM accounts.get_account('$a'))}),
		'3 {"plan": "pro"}', "$n: a redaction erases the personal fields, keeps the others");
	my $events = join ' ', map { $_->safe_psql('postgres', qq{SELECT string_agg(detail::text, ' ' ORDER BY seq) FROM accounts.events_since(0)
		WHERE kind = 'account.fields_updated' AND account_id IN ('$a', '$c')}) } @nodes;
	unlike($events, qr/Cy|1980/, "$n: and their values from the events, on every node");
	like($events, qr/"plan": "pro"/, "$n: but not the other fields' values");
}
($ret, $out, $err) = $workers[0]->psql('postgres', "\\set VERBOSITY verbose\nSELECT accounts.drop_field('person', 'plan')");
like($err, qr/2BP01: field "plan" of account type "person" is in use/, 'drop_field of a field in use, from a worker: 2BP01');
$workers[1]->safe_psql('postgres', q{SELECT accounts.create_field('person', 'nick'); SELECT accounts.drop_field('person', 'nick')});
is($coord->safe_psql('postgres', q{SELECT count(*) FROM accounts.dist_account_fields WHERE name = 'nick'}), '0', 'create_field and drop_field from a worker');
is(join(' ', map { $_->safe_psql('postgres', q{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT count(*) FILTER (WHERE a.attstattarget <> 0) || '/' || count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'fields'
		 WHERE c.relname ~ '^dist_accounts(_[0-9]+)?$'}) } @nodes) =~ /^0\/\d+ 0\/\d+ 0\/\d+$/ ? 'none' : 'some',
	'none', 'no per-value statistics of fields on any shard');

# nothing ever went to the single-node tables after distribute()
for my $node (@nodes)
{
	is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM accounts.accounts) + (SELECT count(*) FROM accounts.identifiers)}),
		'0', $node->name . ': the single-node tables stay empty');
}

my $client = dirname(__FILE__) . '/../clients/citus.py';
my $conninfos = join ';', map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } @nodes;
my $seconds = $ENV{CITUS_SECONDS} // ($ENV{ACCOUNT_FULL} ? 30 : 5);
my $clients = CitusTest::clients();

# 4. $clients clients over three nodes
my $outfile = "$PostgreSQL::Test::Utils::tmp_check/citus_hot.txt";
my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = 'hot';
				  $ENV{CITUS_SECONDS} = $seconds; $ENV{CITUS_CLIENTS} = $clients; delete $ENV{CITUS_RESTART_OK};
				  $ENV{CITUS_EVENTS_OUT} = "$outfile.events"; });
diag($stdout);
diag($stderr) if $stderr;
ok($ok, "$clients clients for ${seconds}s over three nodes: no client error");
check_results('hot run', $outfile, 'hot', 1);
check_consumed('hot run', "$outfile.events");
journal_audit('hot run', $nj);

# a shard that moved away (src/dist.c, A SHARD THAT MOVES): in a
# transaction that took the distributed path, 42P01 naming a shard of the
# account tables is 40001, saying why; any other 42P01 stays 42P01
for my $node ($coord, $workers[0])
{
	my ($r, $o, $e) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN;\n"
		. "SELECT accounts.find_or_create_account('user', 'reference_id', 'moved-shard');\n"
		. "SELECT 1 FROM accounts.dist_identifiers_999999;\nCOMMIT;");
	like($e, qr/ERROR:  40001: relation "accounts.dist_identifiers_999999" does not exist.*DETAIL:  A shard of the account tables moved to another node/s,
		$node->name . ': a read of a shard that moved away is 40001, with the reason');
	($r, $o, $e) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN;\n"
		. "SELECT accounts.find_or_create_account('user', 'reference_id', 'moved-shard');\n"
		. "SELECT 1 FROM accounts.no_such_table_1;\nCOMMIT;");
	like($e, qr/ERROR:  42P01: relation "accounts.no_such_table_1" does not exist/, $node->name . ': another missing relation stays 42P01');
}

# 5. a worker restarted during the run
$outfile = "$PostgreSQL::Test::Utils::tmp_check/citus_restart.txt";
my $h = IPC::Run::start([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = 'rst';
				  $ENV{CITUS_SECONDS} = 600; $ENV{CITUS_STOP_FILE} = "$outfile.stop"; $ENV{CITUS_CLIENTS} = $clients; $ENV{CITUS_RESTART_OK} = 1;
				  $ENV{CITUS_EVENTS_OUT} = "$outfile.events"; });
# the restart must come while the clients call: wait until they have
# created accounts (a deadline, not a fixed sleep: on a loaded machine the
# clients took longer than a fixed 6 s to start, and the worker was back
# before the first call), run on, then stop them with the stop file
my $started = 0;
my $deadline = time() + 180;
while (time() < $deadline)
{
	$started = $coord->safe_psql('postgres', q{SELECT count(*) FROM accounts.dist_identifiers WHERE value LIKE 'rst%'});
	last if $started >= 300;
	usleep(200_000);
}
sleep 2;
$workers[1]->stop('immediate');
sleep 3;
$workers[1]->start;
sleep($ENV{ACCOUNT_FULL} ? 12 : 5);
{ open my $fh, '>', "$outfile.stop" or die; close $fh; }
$ok = $h->finish;
cmp_ok($started, '>=', 300, "the clients were calling before the restart ($started identifiers)");
diag($stdout);
diag($stderr) if $stderr;
ok($ok, 'a worker restarted during the run: no error other than connection errors');
like($stdout, qr/retryable 08006/, 'calls through another node for its shards got 08006 (connection failure), not XX000');
# Citus resolves the prepared transactions of the restarted worker
CitusTest::no_prepared('restart run');
check_results('restart run', $outfile, 'rst', 0);
check_consumed('restart run', "$outfile.events");
journal_audit('restart run', $nj);

# 6. the lifecycle under load: merges of hot accounts, redactions, archives,
# tags and removals among the creates, from every node
$outfile = "$PostgreSQL::Test::Utils::tmp_check/citus_lifecycle.txt";
$ok = IPC::Run::run([ 'python3', $client ], '>', \$stdout, '2>', \$stderr,
	init => sub { $ENV{CITUS_CONNINFOS} = $conninfos; $ENV{CITUS_OUT} = $outfile; $ENV{CITUS_PREFIX} = 'lc';
				  $ENV{CITUS_SECONDS} = $seconds; $ENV{CITUS_CLIENTS} = $clients; $ENV{CITUS_LIFECYCLE} = 1;
				  $ENV{CITUS_POOL} = 100; delete $ENV{CITUS_RESTART_OK}; $ENV{CITUS_EVENTS_OUT} = "$outfile.events"; });
diag($stdout);
diag($stderr) if $stderr;
ok($ok, "$clients clients for ${seconds}s mixing the lifecycle in: no error but 55000, 2BP01 and 40P01");
like($stdout, qr/lifecycle calls: \d+/, 'the lifecycle calls ran');
like($stdout, qr/expected 55000: \d+/, 'and met merged and redacted accounts');
audit('lifecycle run');
check_consumed('lifecycle run', "$outfile.events");
journal_audit('lifecycle run', $nj);

# 6b. identity resolution under load (issue #27): $clients clients over the
# three nodes link pairs of identifiers with on_conflict => 'merge', without
# and with a limit (test/clients/resolution.py): every component of the
# committed links is one live account, the journals replayed give the tables
$coord->safe_psql('postgres', q{SELECT accounts.create_account_type(t) FROM unnest(ARRAY['linked', 'limited']) t;
	SELECT accounts.create_identifier_type(t, 'email', 'email'), accounts.create_identifier_type(t, 'device', 'text'),
	       accounts.create_field(t, 'name'), accounts.create_field(t, 'city', personal => false)
	  FROM unnest(ARRAY['linked', 'limited']) t;
	SELECT accounts.set_identifier_limit('limited', 'reference_id', 1)});
my $resolution = dirname(__FILE__) . '/../clients/resolution.py';
for my $run (['linked', ''], ['limited', '1'])
{
	my ($type, $limit) = @$run;
	$ok = IPC::Run::run([ 'python3', $resolution ], '>', \$stdout, '2>', \$stderr,
		init => sub { $ENV{RESOLUTION_NODES} = join '|', map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } @nodes;
					  $ENV{RESOLUTION_TYPE} = $type; $ENV{RESOLUTION_LIMIT} = $limit; $ENV{RESOLUTION_CITUS} = 1;
					  $ENV{RESOLUTION_SECONDS} = $seconds; $ENV{RESOLUTION_MIN_LINKS} = 201; $ENV{RESOLUTION_CLIENTS} = $clients; });
	diag($stdout);
	diag($stderr) if $stderr;
	ok($ok, "$type: $clients clients linking pairs over three nodes: every component one live account, the journals give the tables");
	my ($links) = $stdout =~ /^count links (\d+)$/m;
	cmp_ok($links // 0, '>', 200, "$type: hundreds of committed links");
	like($stdout, qr/^audit replayed accounts differing 0$/m, "$type: the journals replayed give every account");
	like($stdout, qr/^audit over-limit 0$/m, 'limited: no account holds two reference ids') if $limit;
}
audit('resolution run');
CitusTest::no_prepared('resolution run');

# retention, from a worker: every node's journal
my $all_events = 0;
$all_events += scalar @{ journal($_) } for @nodes;
is($workers[1]->safe_psql('postgres', q{SELECT accounts.trim_events(now())}), $all_events, "trim_events() on a worker deletes the $all_events events of every node");
is(join(' ', map { scalar @{ journal($_) } } @nodes), '0 0 0', 'every journal is empty after it');

# a cluster distributed by 1.5, updated to 1.6: it works as before, without
# events, until distribute() runs again, and then has its journal
for my $node (@nodes)
{
	$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
	$node->safe_psql('upgraded', 'CREATE EXTENSION citus');
}
$coord->safe_psql('upgraded', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('upgraded', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @workers;
$coord->safe_psql('upgraded', q{CREATE EXTENSION account VERSION '1.5'; SELECT accounts.distribute(4)});
my $u15 = $workers[0]->safe_psql('upgraded', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'made_by_15')});
# this library under the 1.5 schema, before the update: as 1.5, without events
$workers[1]->safe_psql('upgraded', q{SELECT accounts.create_identifier_type('user', 'email', 'email')});
is($workers[0]->safe_psql('upgraded', q{SELECT created FROM accounts.find_or_create_account('user', ROW('email', 'u15@example.com')::accounts.identifier)}),
	't', 'the new library runs the 1.5 schema of a distributed cluster (registry and creates)');
$coord->safe_psql('upgraded', 'ALTER EXTENSION account UPDATE');
is(join(' ', map { $_->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}) } @nodes),
	'1.8 1.8 1.8', 'ALTER EXTENSION on the coordinator of a cluster distributed by 1.5 updates every node');
is($workers[1]->safe_psql('upgraded', q{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'MADE_BY_15')}),
	"$u15 false", 'after the update, an account made by 1.5 is found');
is($workers[1]->safe_psql('upgraded', q{SELECT created FROM accounts.find_or_create_account('user', 'reference_id', 'between')}),
	't', 'and creating works before distribute() runs again');
is(join(' ', map { $_->safe_psql('upgraded', 'SELECT count(*) FROM accounts.events_since(0)') } @nodes), '0 0 0', 'without events, as with 1.5');
($ret, $out, $err) = $workers[0]->psql('upgraded', "\\set VERBOSITY verbose\nSELECT accounts.set_journal('user', false)");
like($err, qr/55000: the change journal is not distributed on this cluster yet/, 'set_journal before it: 55000');
($ret, $out, $err) = $coord->psql('upgraded', 'SELECT accounts.distribute()');
like($err, qr/the update of the distributed tables is finished/, 'distribute() again finishes the update');
is($coord->safe_psql('upgraded', q{SELECT (SELECT 'vacuum_index_cleanup=on' = ANY (reloptions) FROM pg_class WHERE oid = 'accounts.dist_identifiers'::regclass)
	|| ' ' || (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'accounts.dist_identifiers'::regclass AND attname = 'value')
	|| ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts.dist_event_redactions'::regclass AND attname IN ('holders', 'erased'))
	|| ' ' || (SELECT string_agg(relreplident::text, '' ORDER BY relname) FROM pg_class WHERE oid IN ('accounts.dist_events'::regclass, 'accounts.dist_event_redactions'::regclass))}),
	'true 0 2 ff', 'in one call, from 1.5 to 1.8: erasure settings, the redaction columns, replica identities for shard moves');
is($coord->safe_psql('upgraded', q{SELECT (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'accounts.dist_accounts'::regclass AND attname = 'fields')
	|| ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts.dist_identifier_types'::regclass AND attname = 'max_per_account')
	|| ' ' || (SELECT count(*) FROM citus_tables WHERE table_name = 'accounts.dist_account_fields'::regclass)}),
	'0 1 1', 'and the account record of 1.8: fields without statistics, limits, the fields registry');
is(join(' ', map { $_->safe_psql('upgraded', q{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT count(*) FILTER (WHERE a.attstattarget <> 0) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'value'
		 WHERE c.relname ~ '^dist_identifiers_[0-9]+$'}) } @nodes), '0 0 0', 'and every shard of dist_identifiers keeps no value statistics');
($ret, $out, $err) = $coord->psql('upgraded', 'SELECT accounts.distribute()');
like($err, qr/the accounts are distributed already/, 'a third call has nothing left to do');
my $after = $workers[1]->safe_psql('upgraded', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'after_update')});
is(join(' ', map { $_->safe_psql('upgraded', qq{SELECT count(*) FROM accounts.events_since(0) WHERE account_id = '$after' AND kind = 'account.created'}) } @nodes),
	join(' ', map { $_ == account_node($after, 'upgraded') ? 1 : 0 } @nodes), 'then a create writes its event on the node of its account');
is($workers[0]->safe_psql('upgraded', q{SELECT accounts.add_identifier(accounts.find_account('user', 'reference_id', 'made_by_15'), 'reference_id', 'another')}),
	't', 'an account made by 1.5 takes an identifier');
is($workers[0]->safe_psql('upgraded', qq{SELECT kind FROM accounts.events_since(0) WHERE account_id = '$u15'}) . $workers[1]->safe_psql('upgraded', qq{SELECT kind FROM accounts.events_since(0) WHERE account_id = '$u15'}),
	'identifier.added', 'and its event is written');
$workers[1]->safe_psql('upgraded', q{SELECT accounts.set_journal('user', false)});
is($coord->safe_psql('upgraded', q{SELECT enabled FROM accounts.dist_journal_settings}), 'f', 'set_journal works from a worker');
is($coord->safe_psql('upgraded', q{SELECT count(*) FROM accounts.dist_accounts WHERE event_detail IS NOT NULL}), '0', 'no account row keeps an event detail');

# a cluster distributed by 1.7, updated to 1.8: everything of 1.7 works
# until distribute() runs again (fields and limits refuse with 55000), then
# the account record is there, on the existing accounts too
for my $node (@nodes)
{
	$node->safe_psql('postgres', 'CREATE DATABASE upgraded17');
	$node->safe_psql('upgraded17', 'CREATE EXTENSION citus');
}
$coord->safe_psql('upgraded17', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('upgraded17', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @workers;
$coord->safe_psql('upgraded17', q{CREATE EXTENSION account VERSION '1.7'; SELECT accounts.distribute(4)});
my $u17 = $workers[0]->safe_psql('upgraded17', q{SELECT account_id FROM accounts.find_or_create_account('user', 'reference_id', 'made_by_17')});
$coord->safe_psql('upgraded17', 'ALTER EXTENSION account UPDATE');
is(join(' ', map { $_->safe_psql('upgraded17', q{SELECT extversion FROM pg_extension WHERE extname = 'account'}) } @nodes),
	'1.8 1.8 1.8', 'a cluster distributed by 1.7: ALTER EXTENSION updates every node');
is($workers[1]->safe_psql('upgraded17', qq{SELECT account_id || ' ' || created FROM accounts.find_or_create_account('user', 'reference_id', 'MADE_BY_17')}),
	"$u17 false", 'an account made by 1.7 is found before distribute() runs again');
is($workers[0]->safe_psql('upgraded17', qq{SELECT fields::text || ' ' || cardinality(identifiers) FROM accounts.get_account('$u17')}),
	'{} 1', 'get_account works, without fields');
$workers[0]->safe_psql('upgraded17', q{SELECT accounts.create_identifier_type('user', 'email', 'email')});
is($workers[1]->safe_psql('upgraded17', q{SELECT account_id = (SELECT accounts.find_account('user', 'reference_id', 'made_by_17')) AND NOT created
	FROM accounts.find_or_create_account('user', ARRAY[ROW('reference_id', 'made_by_17'), ROW('email', 'm17@example.com')]::accounts.identifier[], on_conflict => 'merge')}),
	't', 'the multi-identifier call takes on_conflict');
for my $call (q{SELECT accounts.create_field('user', 'name')}, qq{SELECT accounts.set_fields('$u17', '{"name": "x"}')},
			  q{SELECT accounts.set_identifier_limit('user', 'email', 2)})
{
	($ret, $out, $err) = $workers[1]->psql('upgraded17', "\\set VERBOSITY verbose\n$call");
	like($err, qr/55000: fields and identifier limits are not distributed on this cluster yet/, "before distribute() again: $call: 55000");
}
($ret, $out, $err) = $coord->psql('upgraded17', 'SELECT accounts.distribute()');
like($err, qr/the update of the distributed tables is finished/, 'distribute() again finishes the update from 1.7');
is($coord->safe_psql('upgraded17', q{SELECT (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'accounts.dist_accounts'::regclass AND attname = 'fields')
	|| ' ' || (SELECT count(*) FROM citus_tables WHERE table_name = 'accounts.dist_account_fields'::regclass)
	|| ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts.dist_event_redactions'::regclass AND attname = 'kept')}),
	'0 1 1', 'the fields column without statistics, the fields registry, the redactions\' kept fields');
is(join(' ', map { $_->safe_psql('upgraded17', q{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT count(*) FILTER (WHERE a.attstattarget = 0) || '/' || count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'fields'
		 WHERE c.relname ~ '^dist_accounts_[0-9]+$'}) } @workers), '2/2 2/2', 'every shard has the column, without statistics');
is(join(' ', map { $_->safe_psql('upgraded17', q{SET citus.show_shards_for_app_name_prefixes = '*';
		SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		 WHERE c.relname ~ '^dist_(accounts|identifiers)_[0-9]+$' AND t.tgname ~ '^dist_(accounts|identifiers)_hold'
		   AND t.tgfoid = 'accounts_internal.dist_hold_shard()'::regprocedure}) } @workers), '4 4',
	'every shard of dist_accounts and dist_identifiers has the trigger that holds its group (shard moves)');
$workers[1]->safe_psql('upgraded17', q{SELECT accounts.create_field('user', 'name'); SELECT accounts.set_identifier_limit('user', 'email', 2)});
is($workers[0]->safe_psql('upgraded17', qq{SELECT accounts.set_fields('$u17', '{"name": "Seventeen"}')}), '{"name": "Seventeen"}',
	'then an account made by 1.7 takes fields');
is($coord->safe_psql('upgraded17', qq{SELECT fields::text FROM accounts.get_account('$u17')}), '{"name": "Seventeen"}', 'seen from every node');
($ret, $out, $err) = $coord->psql('upgraded17', "\\set VERBOSITY verbose\n" . qq{SELECT accounts.add_identifier('$u17', 'email', 'a\@example.com'); SELECT accounts.add_identifier('$u17', 'email', 'b\@example.com')});
like($err, qr/23514: account $u17 would hold 3 identifiers of type "email"/, 'and its limits apply');

# 8. amcheck on every index of the extension's tables and shards, every node
CitusTest::amcheck('the end');

$_->stop for @nodes;
done_testing();
