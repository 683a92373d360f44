"""SQLAlchemy: find_or_create_account() as a table-valued function.

The usual recipe (query, then session.add() and commit(), then catch
IntegrityError and query again) costs a failed INSERT and a rollback on
every race and still needs a unique constraint to be correct.  One call of
accounts.find_or_create_account() cannot race.
"""
from sqlalchemy import func, select


def find_or_create_account(session, value, id_type="reference_id", account_type="user"):
    """(account_id, created) for the identifier; race-free."""
    call = func.accounts.find_or_create_account(account_type, id_type, value).table_valued("account_id", "created")
    return tuple(session.execute(select(call.c.account_id, call.c.created)).one())
