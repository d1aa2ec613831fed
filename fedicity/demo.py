"""The demo instance: a small commune's civic network, seeded idempotently."""

from __future__ import annotations

from fedicity.accounts import service as accounts
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.db.pool import Connection

DEMO_ADMIN = "admin_demo"
DEMO_PASSWORD = "demo-citoyen"  # noqa: S105 -- published in the README: the demo citizens are for trying things

CITIZENS = (
    (
        "camille",
        "Camille Martin",
        "Habitante du quartier de la Croix-de-Chavaux, bénévole à l'AMAP.",
    ),
    ("yanis", "Yanis Benali", "Parent d'élève, cycliste du quotidien."),
    ("lea", "Léa Dubois", "Conseillère de quartier."),
)
ORGANIZATIONS = (
    (
        "mairie",
        "local_government",
        "Mairie de Montreuil",
        "Compte officiel de la ville : agenda, concertations et budget participatif.",
    ),
    (
        "amap_chavaux",
        "association",
        "AMAP de la Croix-de-Chavaux",
        "Paniers de légumes de saison, distribution le jeudi soir.",
    ),
    ("fournil_du_bas", "company", "Le Fournil du Bas", "Boulangerie bio, rue de Paris."),
    (
        "collectif_velo",
        "collective",
        "Collectif Vélo Montreuil",
        "Pour des rues cyclables et apaisées.",
    ),
)


async def seed_demo(conn: Connection, *, admin_password: str, keygen: KeyGenerator) -> list[str]:
    """Create what is missing of the demo data; return a line per thing created."""
    created: list[str] = []
    await actor_service.ensure_instance_actor(conn, keygen=keygen)
    if await actor_queries.select_actor_by_username(conn, DEMO_ADMIN) is None:
        await accounts.register(
            conn,
            username=DEMO_ADMIN,
            password=admin_password,
            is_admin=True,
            display_name="Administration de la démo",
            keygen=keygen,
        )
        created.append(f"created admin @{DEMO_ADMIN}")
    for username, name, summary in CITIZENS:
        if await actor_queries.select_actor_by_username(conn, username) is None:
            account = await accounts.register(
                conn, username=username, password=DEMO_PASSWORD, display_name=name, keygen=keygen
            )
            actor = await actor_queries.select_actor_by_id(conn, account.actor_id)
            assert actor is not None
            await actor_service.update_profile(
                conn,
                actor,
                display_name=name,
                summary=summary,
                manually_approves_followers=False,
                discoverable=True,
            )
            created.append(f"created citizen @{username} (password: {DEMO_PASSWORD})")
    for username, kind, name, summary in ORGANIZATIONS:
        if await actor_queries.select_actor_by_username(conn, username) is None:
            await actor_service.create_organization(
                conn,
                username,
                organization_kind=kind,
                display_name=name,
                summary=summary,
                keygen=keygen,
            )
            created.append(f"created {kind} @{username}")
    return created
