-- Identifier types, registries, and accounts with several identifiers.
\pset null '(null)'

-- registries
SELECT accounts.create_account_type('customer');
SELECT account_type, name, kind, case_sensitive FROM accounts.identifier_types
 WHERE account_type = 'customer';                        -- reference_id comes with it
SELECT * FROM try($$SELECT accounts.create_account_type('customer')$$);
SELECT * FROM try($$SELECT accounts.create_account_type('Bad Name')$$);
SELECT * FROM try($$SELECT accounts.create_account_type(NULL)$$);
SELECT accounts.create_identifier_type('customer', 'email', 'email');
SELECT accounts.create_identifier_type('customer', 'phone', kind => 'phone');
SELECT accounts.create_identifier_type('customer', 'username');
SELECT accounts.create_identifier_type('customer', 'external_id', 'text', case_sensitive => true);
SELECT * FROM try($$SELECT accounts.create_identifier_type('customer', 'fax', 'fax')$$);
SELECT * FROM try($$SELECT accounts.create_identifier_type('customer', 'email', 'email')$$);
SELECT * FROM try($$SELECT accounts.create_identifier_type('nosuch', 'email', 'email')$$);
SELECT * FROM try($$SELECT accounts.create_identifier_type('customer', 'E-mail')$$);
SELECT account_type, name, kind, case_sensitive FROM accounts.identifier_types
 WHERE account_type = 'customer' ORDER BY name;

-- several identifiers for one account
CREATE TEMP TABLE c AS
SELECT * FROM accounts.find_or_create_account('customer',
    ARRAY[('email', 'Ann@Example.com'), ('phone', '+1 415 555 0100'), ('reference_id', 'cust-1')]::accounts.identifier[]);
SELECT created FROM c;
SELECT id_type, value FROM accounts.identifiers WHERE account_id = (SELECT account_id FROM c) ORDER BY 1;
-- any one of them finds the account
SELECT account_id = (SELECT account_id FROM c) AS same, created
  FROM accounts.find_or_create_account('customer', 'phone', '+1 (415) 555-0100');
-- known identifiers plus new ones: found, and the new ones are attached
SELECT account_id = (SELECT account_id FROM c) AS same, created
  FROM accounts.find_or_create_account('customer',
       ARRAY[('username', 'ann'), ('email', 'ANN@example.com')]::accounts.identifier[]);
SELECT id_type, value FROM accounts.identifiers WHERE account_id = (SELECT account_id FROM c) ORDER BY 1;
-- duplicates in the array are one identifier
SELECT created FROM accounts.find_or_create_account('customer',
       ARRAY[('reference_id', 'cust-2'), ('reference_id', 'CUST-2')]::accounts.identifier[]);
-- identifiers of two different accounts: 21000, and nothing written
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM accounts.identifiers;
SELECT code, message, detail ~ 'reference_id "cust-1" belongs to account' AND detail ~ 'reference_id "cust-2" belongs to account' AS detail_names_both, hint
  FROM try($$SELECT accounts.find_or_create_account('customer',
       ARRAY[('reference_id', 'cust-1'), ('reference_id', 'cust-2'), ('username', 'new-user')]::accounts.identifier[])$$);
SELECT (SELECT count(*) FROM accounts.identifiers) - n AS written FROM before;
-- bad input: errors, nothing written
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', ARRAY[]::accounts.identifier[])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', ARRAY[('email', 'x@y'), NULL]::accounts.identifier[])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', ARRAY[('email', NULL)]::accounts.identifier[])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', ARRAY[('email', 'x@y'), ('phone', '12')]::accounts.identifier[])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', NULL::accounts.identifier[])$$);
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', ARRAY(SELECT ('reference_id', 'n' || n)::accounts.identifier FROM generate_series(1, 101) n))$$);
SELECT (SELECT count(*) FROM accounts.identifiers) - n AS written FROM before;

-- add_identifier / remove_identifier
SELECT accounts.add_identifier((SELECT account_id FROM c), 'external_id', 'Ext-9') AS added;
SELECT accounts.add_identifier((SELECT account_id FROM c), 'external_id', 'Ext-9') AS added_again;
SELECT accounts.add_identifier((SELECT account_id FROM c), 'external_id', 'EXT-9') AS case_sensitive_type_adds;
SELECT code, message, detail ~ '^Account [0-9a-f-]{36} has it' AS detail_names_owner, hint
  FROM try($$SELECT accounts.add_identifier((SELECT account_id FROM accounts.find_or_create_account('customer', 'reference_id', 'cust-2')), 'email', 'ann@example.com')$$);
SELECT * FROM try($$SELECT accounts.add_identifier('00000000-0000-7000-8000-000000000000', 'email', 'x@y')$$);
SELECT * FROM try($$SELECT accounts.add_identifier((SELECT account_id FROM c), 'nosuch', 'x')$$);
SELECT * FROM try($$SELECT accounts.add_identifier(NULL, 'email', 'x@y')$$);
SELECT accounts.remove_identifier((SELECT account_id FROM c), 'external_id', 'EXT-9') AS removed;
SELECT accounts.remove_identifier((SELECT account_id FROM c), 'external_id', 'EXT-9') AS removed_again;
SELECT accounts.remove_identifier((SELECT account_id FROM c), 'username', 'someone-else') AS not_its;
SELECT * FROM try($$SELECT accounts.remove_identifier('00000000-0000-7000-8000-000000000000', 'email', 'x@y')$$);
-- the last identifier cannot be removed
SELECT accounts.find_or_create_account('customer', 'reference_id', 'lonely') IS NOT NULL AS made;
SELECT code, regexp_replace(message, '[0-9a-f-]{36}', '<id>') AS message, detail FROM try($$SELECT accounts.remove_identifier(
    accounts.find_account('customer', 'reference_id', 'lonely'), 'reference_id', 'lonely')$$);

-- dropping types
SELECT * FROM try($$SELECT accounts.drop_identifier_type('customer', 'email')$$);
SELECT accounts.remove_identifier((SELECT account_id FROM c), 'external_id', 'Ext-9') AS removed_last_use;
SELECT accounts.drop_identifier_type('customer', 'external_id');
SELECT * FROM try($$SELECT accounts.drop_identifier_type('customer', 'external_id')$$);
SELECT * FROM try($$SELECT accounts.drop_identifier_type('customer', 'reference_id')$$);
SELECT * FROM try($$SELECT accounts.drop_account_type('user')$$);
SELECT * FROM try($$SELECT accounts.drop_account_type('customer')$$);
SELECT accounts.create_account_type('temporary');
SELECT accounts.drop_account_type('temporary');
SELECT count(*) AS gone FROM accounts.identifier_types WHERE account_type = 'temporary';
-- a dropped type is unknown at once (the registry cache follows)
SELECT * FROM try($$SELECT accounts.find_or_create_account('customer', 'external_id', 'x')$$);

-- default-ignorable code points are dropped (1.7): a soft hyphen, an
-- invisible separator, a variation selector hide nothing
SELECT accounts.normalize_identifier('customer', 'reference_id', E'ad\u00ADmin') AS soft_hyphen_dropped;
SELECT (SELECT account_id FROM accounts.find_or_create_account('customer', 'reference_id', E'ad\u00ADmin'))
     = (SELECT account_id FROM accounts.find_or_create_account('customer', 'reference_id', 'admin')) AS one_account;
-- (the message quotes the invisible value; psql's width for it differs between majors)
SELECT code, message ~ '^reference_id value ".*" is empty$' AS is_empty, detail
  FROM try($$SELECT accounts.find_or_create_account('customer', 'reference_id', E'\u00AD\u2063\uFE0F')$$);
SELECT count(*) AS nothing_written FROM accounts.identifiers WHERE value LIKE E'%\u00AD%' OR value = '';
-- phone numbers: every space and dash separates groups, NO-BREAK SPACE included
SELECT accounts.normalize_identifier('customer', 'phone', E'+33\u00A01\u00A023\u00A045\u00A067\u00A089') AS nbsp_phone;
SELECT accounts.normalize_identifier('customer', 'phone', E'415\u2011555\u20130100') AS dashes_phone;
-- the length limit is on the normalized value; a raw value over 1 MiB is refused before normalizing
SELECT length(accounts.normalize_identifier('customer', 'reference_id', repeat(E'\u00AD', 1000) || 'x')) AS padding_ignored;
SELECT code, message ~ 'is too long' AS too_long, detail FROM try($$SELECT accounts.normalize_identifier('customer', 'reference_id', repeat(' ', 1048577) || 'x')$$);
