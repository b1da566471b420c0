"""What holds for any stack: facts about Exchange Online, Entra and Azure (ids, roles, clouds, name rules), reading PowerShell,
the Exchange RBAC plan, and pure time helpers. No Pulumi resources and no config reading live here."""
