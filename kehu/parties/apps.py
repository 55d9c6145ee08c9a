from django.apps import AppConfig


class PartiesConfig(AppConfig):
    name = "kehu.parties"
    label = "parties"

    def ready(self) -> None:
        from kehu.parties.handover import AccountTeamPlaces, OwnedParties
        from kehu.tenancy.handover import register

        register(OwnedParties())
        register(AccountTeamPlaces())
