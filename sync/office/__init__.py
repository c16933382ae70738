"""The union office's operations, as plain functions over a SQLAlchemy session.

Everything ``cinepass-admin`` does to the central database lives here, so the
web console and the online API to come call the very same functions instead of
importing a command line or copying it. No argparse, no HTTP, no printing: a
function takes a :class:`~sqlalchemy.orm.Session` (the caller owns the
transaction, so a refused operation changes nothing) and returns rows or
values; a refusal is an :class:`~sync.office.errors.OfficeError` (a
:class:`~sync.errors.CinePassError`), which each front end maps in its one place.

Modules: :mod:`.cinemas` (partner cinemas), :mod:`.devices` (enrolment codes,
revocation, the device list), :mod:`.issuers` (signing keys), :mod:`.batches`
(recording issued vouchers), :mod:`.vouchers` (find, freeze, unfreeze,
reissue), :mod:`.reports` (settlement).
"""
