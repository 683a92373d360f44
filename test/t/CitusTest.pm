# test/t/CitusTest.pm: what the Citus TAP tests (015, 019) share: the
# cluster's nodes, where a route lives, reading a node's journal, and the
# audits of the tables and journals after a run.  CitusTest::use_nodes()
# names the nodes, the coordinator first.
package CitusTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(route_node account_node journal events_of audit check_results check_lifecycle_results check_consumed journal_audit);

our @nodes;
our $coord;
my %port_node;
my %route_port;

my $moved = 0;

sub use_nodes
{
	@nodes = @_;
	$coord = $nodes[0];
	%port_node = map { $_->port => $_ } @nodes;
	%route_port = ();
}

# Skip the whole test file (plan skip_all) when Citus is not installed for
# this major, or when ACCOUNT_SKIP_CITUS is set.
sub skip_unless_citus
{
	my $pkglibdir = `pg_config --pkglibdir`;
	chomp $pkglibdir;
	if (!-f "$pkglibdir/citus.so")
	{
		plan skip_all => "Citus is not installed ($pkglibdir/citus.so); scripts/matrix.sh builds it from ../shared/citus";
	}
	if ($ENV{ACCOUNT_SKIP_CITUS})
	{
		plan skip_all => "ACCOUNT_SKIP_CITUS is set (scripts/matrix.sh runs Citus on the majors of ACCOUNT_CITUS_MAJORS)";
	}
	return;
}

# The clients of a load run (test/clients/citus.py, resolution.py): 16
# with ACCOUNT_FULL=1; 8 in the short mode, still four per core here (the
# runs go on until their calls are enough for the audit: MIN_CALLS,
# MIN_LINKS); CITUS_CLIENTS overrides both.
sub clients { return $ENV{CITUS_CLIENTS} // ($ENV{ACCOUNT_FULL} ? 16 : 8); }

# Shards moved between nodes (a rebalance, a drain): from now on an
# account's older events may be in the journal of a node its shard left.
sub shards_moved
{
	$moved = 1;
	%route_port = ();
}

# A node of a Citus cluster, started, for a test: $name, extra config.
sub start_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	# citus.local_hostname: Citus's connections to its own node (copying
	# reference tables to a new node) go to its unix socket, as the
	# tests' servers listen on nothing else
	$node->append_conf('postgresql.conf', "citus.local_hostname = '" . $node->host . "'\n");
	# citus.recover_2pc_interval: a restarted worker's prepared
	# transactions are resolved within a second instead of a minute
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus'
max_prepared_transactions = 200
max_connections = 300
citus.recover_2pc_interval = '1s'
} . ($extra // ''));
	$node->start;
	return $node;
}

# the node whose shard holds route $route (in database $db, postgres by default)
sub route_node
{
	my ($route, $db) = @_;
	return $port_node{ $coord->safe_psql($db // 'postgres', qq{SELECT nodeport FROM citus_shards
		WHERE shardid = get_shard_id_for_distribution_column('accounts.dist_accounts', $route)}) };
}
sub account_node { return route_node("accounts.account_route('$_[0]')", $_[1]); }
# a node's journal, read with events_since() in batches: [seq, account_id or '', kind, detail]
sub journal
{
	my ($node) = @_;
	my ($after, @events) = (0);
	while (1)
	{
		my @batch = map { [ split /\|/, $_, 4 ] } split /\n/, $node->safe_psql('postgres',
			qq{SELECT seq, coalesce(account_id::text, ''), kind, detail FROM accounts.events_since($after, 10000)},
			extra_params => [ '-F', '|', '-A' ]);
		push @events, @batch;
		# a short batch is the last: no call more to learn it
		last if @batch < 10000;
		$after = $batch[-1][0];
	}
	return \@events;
}
# every event of an account, from every node: [node name, kind, detail]
sub events_of
{
	my ($id) = @_;
	my @found;
	for my $node (@nodes)
	{
		# the node's journal table, by its account_id index, in seq order:
		# one query per node (the runs are over, every event committed)
		push @found, map { [ $node->name, split(/\|/, $_, 2) ] } split /\n/, $node->safe_psql('postgres',
			qq{SELECT kind, detail FROM accounts.events WHERE account_id = '$id' ORDER BY seq},
			extra_params => [ '-F', '|', '-A' ]);
	}
	return \@found;
}
# the audit: every row on the shard its route names, no dangling or orphan
# rows, no split identifiers; returns the account of every identifier
sub audit
{
	my ($label) = @_;
	my (%account, %status, %merged_into);
	my $bad = 0;
	for my $line (split /\n/, $coord->safe_psql('postgres', q{SELECT id, route = accounts.account_route(id), status, coalesce(merged_into::text, '-')
			FROM accounts.dist_accounts}, extra_params => [ '-F', ' ', '-A' ]))
	{
		my ($id, $ok, $status, $into) = split / /, $line;
		$bad++ if $ok ne 't';
		$bad++ if $account{$id}++;
		$status{$id} = $status;
		$merged_into{$id} = $into;
	}
	is($bad, 0, "$label: every account is unique and on its route's shard");
	my (%owner, %has, %types);
	$types{$_} = 1 for split /\n/, $coord->safe_psql('postgres', q{SELECT account_type || '/' || name FROM accounts.dist_identifier_types});
	my ($dangling, $misrouted, $on_merged, $on_redacted, $dropped) = (0, 0, 0, 0, 0);
	for my $line (split /\n/, $coord->safe_psql('postgres', q{SELECT account_type || '/' || id_type || '/' || value, account_id,
			route = accounts.identifier_route(account_type, id_type, value) FROM accounts.dist_identifiers}, extra_params => [ '-F', ' ', '-A' ]))
	{
		my ($key, $id, $ok) = split / /, $line;
		$misrouted++ if $ok ne 't';
		$dangling++ if !$account{$id};
		if (($status{$id} // '') eq 'merged')
		{
			# what happened to it, from every node's journal
			if ($on_merged++ < 3)
			{
				diag("$label: $key is on merged account $id (merged into $merged_into{$id}); its events:");
				diag(join("\n", map { "  $_->[0] $_->[1] $_->[2]" } @{ events_of($id) }));
				diag("  the target's events:");
				diag(join("\n", map { "  $_->[0] $_->[1] $_->[2]" } @{ events_of($merged_into{$id}) }));
				my (undef, $id_type, $value) = split m{/}, $key, 3;
				diag('  where the identifier lives: ' . $coord->safe_psql('postgres', qq{SELECT nodename || ':' || nodeport FROM citus_shards
					WHERE shardid = get_shard_id_for_distribution_column('accounts.dist_identifiers', accounts.identifier_route('user', '$id_type', '$value'))}));
			}
		}
		$on_redacted++ if ($status{$id} // '') eq 'redacted' && $key !~ m{^[^/]+/reference_id/};
		$dropped++ if !$types{ join '/', (split m{/}, $key)[0, 1] };
		$owner{$key} = $id;
		$has{$id}++;
	}
	is($misrouted, 0, "$label: every identifier on its route's shard");
	is($dangling, 0, "$label: no identifier of an account that does not exist");
	is($on_merged, 0, "$label: no identifier on a merged account");
	is($on_redacted, 0, "$label: a redacted account keeps only reference ids");
	is($dropped, 0, "$label: no identifier of a dropped type");
	# (a redaction erases all but reference ids: an account may keep none)
	is(scalar(grep { !$has{$_} && $status{$_} ne 'merged' && $status{$_} ne 'redacted' } keys %account), 0,
		"$label: no account without identifiers (merged and redacted ones aside)");
	my $cycles = 0;
	for my $id (grep { $status{$_} eq 'merged' } keys %account)
	{
		my ($cur, $hops) = ($id, 0);
		$cur = $merged_into{$cur} while ($status{$cur} // '') eq 'merged' && ++$hops < 10000;
		$cycles++ if $hops >= 10000 || !$account{$cur};
	}
	is($cycles, 0, "$label: every merge chain ends at an account that exists and is not merged");
	is($coord->safe_psql('postgres', q{SELECT count(*) FROM (SELECT account_type, id_type, value FROM accounts.dist_identifiers GROUP BY 1, 2, 3 HAVING count(*) > 1) d}),
		'0', "$label: one row per identifier");
	return \%owner;
}

# check the clients' results against the tables
sub check_results
{
	my ($label, $file, $prefix, $complete) = @_;
	my $owner = audit($label);
	my (%seen, %created);
	my ($wrong, $lines) = (0, 0);
	open my $fh, '<', $file or die "$file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		my ($kind, $value, $id, $created) = split / /, $line;
		$lines++;
		my $key = 'user/' . ($kind eq 'ref' ? 'reference_id' : 'email') . "/$value";
		if (!defined $owner->{$key} || $owner->{$key} ne $id)
		{
			diag("$label: $key was given $id, the table says " . ($owner->{$key} // 'nothing')) if $wrong++ < 5;
		}
		$created{$id}++ if $created eq 't';
	}
	ok($lines > 1000, "$label: the clients made $lines calls");
	is($wrong, 0, "$label: every committed call's account is the identifier's account in the tables");
	is(scalar(grep { $_ > 1 } values %created), 0, "$label: created = true at most once per account");
	my @run_accounts = do { my %u; grep { !$u{$_}++ } map { $owner->{$_} } grep { m{^user/reference_id/\Q$prefix\E-} } keys %$owner };
	if ($complete)
	{
		is(scalar(grep { !$created{$_} } @run_accounts), 0, "$label: and exactly once for each of the " . scalar(@run_accounts) . ' accounts of the run');
	}
	# reference id i and email i belong to one person: never split
	my $split = 0;
	for my $key (keys %$owner)
	{
		next unless $key =~ m{^user/email/\Q$prefix\E\.(\d+)\@example\.com$};
		my $ref = $owner->{"user/reference_id/$prefix-$1"};
		$split++ if defined $ref && $ref ne $owner->{$key};
	}
	is($split, 0, "$label: no person split over two accounts");
}

# check the results of a run with the lifecycle mixed in against the
# tables: merges move identifiers, removals and redactions erase emails,
# but a reference id stays with its person, so the account a call was
# given for one, followed along its merges, is the account that has it
sub check_lifecycle_results
{
	my ($label, $file) = @_;
	my $owner = audit($label);
	my %into = map { split / / } split /\n/, $coord->safe_psql('postgres', q{SELECT id, merged_into FROM accounts.dist_accounts WHERE merged_into IS NOT NULL},
		extra_params => [ '-F', ' ', '-A' ]);
	my ($wrong, $lines, %created) = (0, 0);
	open my $fh, '<', $file or die "$file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		my ($kind, $value, $id, $created) = split / /, $line;
		$created{$id}++ if $created eq 't';
		next if $kind ne 'ref';
		$lines++;
		my $hops = 0;
		$id = $into{$id} while defined $into{$id} && ++$hops < 10000;
		my $key = "user/reference_id/$value";
		if (($owner->{$key} // '') ne $id)
		{
			diag("$label: $key was given an account that became $id, the table says " . ($owner->{$key} // 'nothing')) if $wrong++ < 5;
		}
	}
	ok($lines > 1000, "$label: the clients made $lines calls for reference ids");
	is($wrong, 0, "$label: the account of each, followed along its merges, has the reference id in the tables");
	is(scalar(grep { $_ > 1 } values %created), 0, "$label: created = true at most once per account");
}

# what the consumers of a run got (citus.py, CITUS_EVENTS_OUT) against the
# journals: up to its last seq, each node's consumer has every committed
# event of that node exactly once and in order
sub check_consumed
{
	my ($label, $file) = @_;
	my (%got, %last);
	open my $fh, '<', $file or die "$file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		my ($i, $seq, $id, $kind) = split / /, $line;
		push @{ $got{$i} }, "$seq $id $kind";
		$last{$i} = $seq;
	}
	my ($total, $wrong) = (0, 0);
	for my $i (0 .. $#nodes)
	{
		my @want = map { "$_->[0] " . ($_->[1] || '-') . " $_->[2]" } grep { $_->[0] <= ($last{$i} // 0) } @{ journal($nodes[$i]) };
		my $have = join "\n", @{ $got{$i} // [] };
		$total += @want;
		if ($have ne join "\n", @want)
		{
			$wrong++;
			diag("$label: " . $nodes[$i]->name . ': the consumer got ' . scalar(@{ $got{$i} // [] }) . ' events, the journal has ' . scalar(@want) . " up to $last{$i}");
		}
	}
	is($wrong, 0, "$label: each node's consumer read its journal ($total events) exactly once and in order, while it was written");
	ok(scalar(keys %last) >= 2, "$label: the consumers had events to read");
}

# The journals against the tables: every account has its account.created
# (once, on the node of its shard), every merged account its account.merged
# (with the target), every redacted one its account.redacted, the
# redacted chains no identifier value; no event of an unknown account.
sub journal_audit
{
	my ($label, @no_journal) = @_;
	if (!%route_port)
	{
		%route_port = map { split / / } split /\n/, $coord->safe_psql('postgres', q{SELECT r || ' ' || (SELECT nodeport FROM citus_shards
			WHERE shardid = get_shard_id_for_distribution_column('accounts.dist_accounts', r)) FROM generate_series(0, 65535) r});
	}
	my (%status, %into);
	for my $line (split /\n/, $coord->safe_psql('postgres', q{SELECT id, status, coalesce(merged_into::text, '-') FROM accounts.dist_accounts},
			extra_params => [ '-F', ' ', '-A' ]))
	{
		my ($id, $st, $m) = split / /, $line;
		$status{$id} = $st;
		$into{$id} = $m;
	}
	my (%count, %merged_to);
	my ($unknown, $misplaced, $leaked, $events) = (0, 0, 0, 0);
	my %redacted_chain;
	for my $id (keys %status)
	{
		my ($cur, $hops) = ($id, 0);
		$cur = $into{$cur} while ($status{$cur} // '') eq 'merged' && ++$hops < 10000;
		$redacted_chain{$id} = 1 if ($status{$cur} // '') eq 'redacted';
	}
	for my $node (@nodes)
	{
		for my $e (@{ journal($node) })
		{
			my ($seq, $id, $kind, $detail) = @$e;
			$events++;
			next if $id eq '';
			if (!$status{$id}) { $unknown++; next; }
			$misplaced++ if !$moved && $node != $coord && $route_port{ hex(substr($id, -4)) } != $node->port;
			$count{"$id $kind"}++;
			$merged_to{$id} = $1 if $kind eq 'account.merged' && $detail =~ /"into": "([^"]+)"/;
			$leaked++ if $redacted_chain{$id} && $detail =~ /"value": "[^"]*\@/;
		}
	}
	my %skip = map { $_ => 1 } @no_journal;
	my @ids = grep { !$skip{$_} } keys %status;
	is($unknown, 0, "$label: no event of an account that does not exist ($events events on " . scalar(@nodes) . ' nodes)');
	is($misplaced, 0, "$label: every event after distribute() is in the journal of its account's node") if !$moved;
	is(scalar(grep { ($count{"$_ account.created"} // 0) != 1 } @ids), 0, "$label: each of the " . scalar(@ids) . ' accounts has exactly one account.created');
	is(scalar(grep { ($count{"$_ account.merged"} // 0) != ($status{$_} eq 'merged' ? 1 : 0) } @ids), 0,
		"$label: each merged account has one account.merged, and no other has one");
	is(scalar(grep { $status{$_} eq 'merged' && ($merged_to{$_} // '') ne $into{$_} } @ids), 0, "$label: account.merged names the account it went into");
	is(scalar(grep { ($count{"$_ account.redacted"} // 0) != ($status{$_} eq 'redacted' ? 1 : 0) } @ids), 0,
		"$label: each redacted account has one account.redacted, and no other has one");
	is($leaked, 0, "$label: no event of a redacted account (or of one merged into it) keeps an erased value");
}


# amcheck on every btree index of the extension's shards, on every node
sub amcheck
{
	my ($label) = @_;
	$coord->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS amcheck');	# Citus creates it on the workers
	for my $node (@nodes)
	{
		# Citus hides shards from catalog queries unless told otherwise
		my $checked = $node->safe_psql('postgres', q{
			SET citus.show_shards_for_app_name_prefixes = '*';
			SELECT count(*) FROM (SELECT bt_index_check(c.oid, true)
			  FROM pg_class c JOIN pg_am am ON am.oid = c.relam
			 WHERE c.relnamespace = 'accounts'::regnamespace AND c.relkind = 'i' AND am.amname = 'btree'
			   AND c.relname ~ '^dist_.*_[0-9]+$') x});
		ok($checked > 0, "$label: " . $node->name . ": amcheck passes on the $checked btree indexes of its shards");
	}
}

# wait until no node has a prepared transaction (Citus's recovery), and say so
sub no_prepared
{
	my ($label) = @_;
	my $pending;
	for (1 .. 60)
	{
		$pending = 0;
		$pending += $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') for @nodes;
		last if $pending == 0;
		sleep 1;
	}
	is($pending, 0, "$label: no prepared transaction is left on any node");
}

1;
