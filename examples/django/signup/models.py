"""Django: Account.objects.find_or_create() instead of get_or_create().

get_or_create() is a SELECT, then an INSERT when nothing came back: two
requests for a new user at once both miss, then one INSERT fails with
IntegrityError (or, without a unique constraint, both succeed and the user
has two accounts).  accounts.find_or_create_account() is one statement that
cannot race: every caller gets the one account.
"""
from django.db import connection, models


class AccountManager(models.Manager):
    def find_or_create(self, value, id_type="reference_id", account_type="user"):
        """(account, created), like get_or_create(); race-free."""
        with connection.cursor() as cur:
            cur.execute(
                "SELECT account_id, created FROM accounts.find_or_create_account(%s, %s, %s)",
                [account_type, id_type, value],
            )
            account_id, created = cur.fetchone()
        return self.model(id=account_id), created


class Account(models.Model):
    """The extension's accounts (read them with SELECT granted on accounts.accounts)."""

    id = models.UUIDField(primary_key=True)
    account_type = models.TextField()
    status = models.TextField()

    objects = AccountManager()

    class Meta:
        managed = False
        db_table = 'accounts"."accounts'


class Inquiry(models.Model):
    """An application table whose rows belong to an account."""

    reference_id = models.TextField()
    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, db_constraint=False)
