# ActiveRecord: Account.find_or_create_by_identifier instead of
# find_or_create_by.
#
# find_or_create_by is a SELECT, then an INSERT when nothing came back: two
# requests for a new user at once both miss, and one gets
# ActiveRecord::RecordNotUnique (or, without a unique index, the user gets
# two accounts).  accounts.find_or_create_account() is one statement that
# cannot race.
require "active_record"

class Account < ActiveRecord::Base
  # the extension's accounts (reading them needs SELECT on accounts.accounts)
  self.table_name = "accounts.accounts"

  # [account_id, created], race-free
  def self.find_or_create_by_identifier(value, id_type: "reference_id", type: "user")
    row = connection.select_one(sanitize_sql_array(
      ["SELECT account_id, created FROM accounts.find_or_create_account(?, ?, ?)", type, id_type, value]))
    [row["account_id"], row["created"]]
  end
end
