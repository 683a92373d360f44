-- The identifier type and the normalization of reference ids.

-- the composite type
SELECT ROW('reference_id', 'abc')::accounts.identifier;
SELECT (('reference_id', 'abc')::accounts.identifier).value;
\d accounts.identifier

-- reference_id: Unicode case folding, NFC, white space trimmed
SELECT v, accounts.normalize_identifier('user', 'reference_id', v) AS normalized
  FROM (VALUES ('ABC'), ('  abc  '), (E'\tAbC\n'),
               ('ÉCOLE'), ('école'),
               (U&'e\0301cole'),          -- decomposed é
               ('Straße'), ('STRASSE'),   -- full folding: ß -> ss
               ('ΣΊΣΥΦΟΣ'), ('σίσυφος'),  -- final sigma folds like sigma
               (U&'\00A0nbsp\3000'),      -- no-break and ideographic space
               ('İstanbul'),              -- dotted capital I: default, not Turkish, folding
               ('ǅ'), ('ﬁle'),            -- titlecase digraph, ligature
               ('a b  c')) t(v);          -- inner spaces are kept

-- composed and decomposed forms are one identifier
SELECT a.account_id = b.account_id AS same_account, a.created::int + b.created::int AS creators
  FROM accounts.find_or_create_account('user', 'reference_id', 'Café') a,
       accounts.find_or_create_account('user', 'reference_id', U&'CAFE\0301') b;

-- idempotent: normalizing the stored form gives it back
SELECT bool_and(n = accounts.normalize_identifier('user', 'reference_id', n)) AS idempotent
  FROM (SELECT accounts.normalize_identifier('user', 'reference_id', v) AS n
          FROM (VALUES ('ÉCOLE'), (U&'e\0301cole'), ('Straße'), ('ΣΊΣΥΦΟΣ'),
                       (U&'\0345'), (U&'\1E9E'), ('ǅ'), ('ﬁle'), ('İ'),
                       (U&'A\030A'), (U&'\212B'), ('x')) t(v)) s;

-- the ASCII fast path and the Unicode path agree
SELECT bool_and(accounts.normalize_identifier('user', 'reference_id', 'Id-' || chr(n) || '-é')
                = accounts.normalize_identifier('user', 'reference_id', 'Id-' || chr(n)) || '-é')
       AS paths_agree
  FROM generate_series(33, 126) n;

-- a case-sensitive identifier type keeps case but still trims and composes
INSERT INTO accounts.identifier_types (account_type, name, case_sensitive)
VALUES ('user', 'external_id', true);
SELECT accounts.normalize_identifier('user', 'external_id', U&'  AbE\0301 ') AS case_kept;
SELECT a.account_id <> b.account_id AS different_accounts
  FROM accounts.find_or_create_account('user', 'external_id', 'ABC') a,
       accounts.find_or_create_account('user', 'external_id', 'abc') b;

-- email and phone kinds
INSERT INTO accounts.identifier_types (account_type, name, kind)
VALUES ('user', 'email', 'email'), ('user', 'phone', 'phone');
SELECT accounts.normalize_identifier('user', 'email', '  Alice.Smith@Example.COM ') AS email,
       accounts.normalize_identifier('user', 'phone', '+1 (415) 555-0100') AS phone,
       accounts.normalize_identifier('user', 'phone', '415.555.0100') AS local_phone;
