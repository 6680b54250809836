from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from safework.accounts import services
from safework.core.errors import InvalidInput


class Command(BaseCommand):
    help = "End a login lockout: of an account, of an address, or of one account at one address."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="", help="the account's username")
        parser.add_argument("--addr", default="", help="the client address (IP)")

    def handle(self, *, username, addr, **options):
        try:
            cleared = services.unlock_login(by=None, username=username, client_addr=addr)
        except InvalidInput as exc:
            raise CommandError(str(exc.errors[0].message)) from exc
        self.stdout.write(_("Unlocked: %(count)d failure counters cleared.") % {"count": cleared})
