"""The demo instance: a small commune's civic network, seeded idempotently."""

from __future__ import annotations

from decimal import Decimal

from fedicity.accounts import service as accounts
from fedicity.activitypub.keys import KeyGenerator
from fedicity.actors import queries as actor_queries
from fedicity.actors import service as actor_service
from fedicity.clock import Clock, SystemClock
from fedicity.db.pool import Connection
from fedicity.listings import queries as listing_queries
from fedicity.listings import service as listing_service
from fedicity.needs import service as need_service
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.service import Env as OrganizationEnv
from fedicity.poi import queries as poi_queries
from fedicity.poi import service as poi_service
from fedicity.poi.models import Address
from fedicity.posts import queries as post_queries
from fedicity.projects import service as project_service
from fedicity.projects.models import ProjectFields
from fedicity.settings import Settings
from fedicity.territories import queries as territory_queries
from fedicity.territories import service as territory_service
from fedicity.territories.importer import import_territories
from fedicity.territories.models import Territory
from fedicity.urls import Urls

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

# Where the demo organisations are, for the map (the shipped territories have no coordinates).
ORGANIZATION_PLACES = {
    "mairie": (48.8620, 2.4418),
    "amap_chavaux": (48.8580, 2.4360),
    "fournil_du_bas": (48.8555, 2.4275),
}


DEMO_POSTS = (
    ("mairie", "Conseil municipal jeudi à 19 h à l'hôtel de ville, ouvert au public. #conseil"),
    (
        "amap_chavaux",
        "Distribution des paniers jeudi de 18 h 30 à 20 h, place de la Croix-de-Chavaux.",
    ),
    ("collectif_velo", "Balade à vélo samedi 10 h au départ de la mairie : venez nombreux ! #velo"),
)


# A few points of interest on the demo map: (author, kind, name, description, point, street).
DEMO_PLACES = (
    (
        "camille",
        "compost_point",
        "Composteur du square Patriarche",
        "Ouvert le samedi de 10 h à 12 h : épluchures, marc de café, feuilles.",
        (48.8601, 2.4431),
        "Square Patriarche",
    ),
    (
        "lea",
        "shared_library",
        "Boîte à livres de la Croix-de-Chavaux",
        "Prenez un livre, déposez-en un.",
        (48.8583, 2.4366),
        "Place de la Croix-de-Chavaux",
    ),
    (
        "collectif_velo",
        "parking",
        "Arceaux vélos de la mairie",
        "Douze arceaux couverts devant l'hôtel de ville.",
        (48.8623, 2.4425),
        "Place Jean-Jaurès",
    ),
)


# A project, what it needs, and a listing: (who, what).
DEMO_PROJECT = (
    "camille",
    "atelier_velo",
    "Atelier vélo participatif",
    "Réparer ensemble, le samedi, avec des outils partagés et des pièces de récupération.",
)
DEMO_NEED = ("Bénévoles pour l'atelier du samedi", "Accueillir et conseiller, 2 h par mois.")
DEMO_LISTING = (
    "yanis",
    "Siège enfant pour vélo",
    "Bon état, fixation sur porte-bagages, jusqu'à 22 kg.",
)


async def seed_demo(
    conn: Connection,
    *,
    admin_password: str,
    keygen: KeyGenerator,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> list[str]:
    """Create what is missing of the demo data; return a line per thing created."""
    created: list[str] = []
    await actor_service.ensure_instance_actor(conn, keygen=keygen)
    root = None
    if settings is not None and settings.territory_code:
        root, lines = await _seed_territories(conn, settings)
        created += lines
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
    created += await _seed_citizens(conn, keygen)
    created += await _seed_organizations(conn, keygen)
    if root is not None and settings is not None:
        created += await _seed_located(conn, root, settings, clock or SystemClock(), keygen)
    return created


async def _seed_territories(
    conn: Connection, settings: Settings
) -> tuple[Territory | None, list[str]]:
    """Import the territories if there are none, and give the served ones their actors."""
    created: list[str] = []
    if await territory_queries.count_territories(conn) == 0:
        report = await import_territories(conn)
        created.append(f"imported {report.inserted} territories of France")
    root = await territory_service.served_root(
        conn, settings.territory_level, settings.territory_code
    )
    if root is not None:
        actors_made = await territory_service.prepare_served_actors(conn, root)
        if actors_made:
            created.append(f"created {actors_made} territory actors under {root.name}")
    return root, created


async def _seed_citizens(conn: Connection, keygen: KeyGenerator) -> list[str]:
    """The demo citizens that are missing, with their profiles."""
    created: list[str] = []
    for username, name, summary in CITIZENS:
        if await actor_queries.select_actor_by_username(conn, username) is not None:
            continue
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
    return created


async def _seed_organizations(conn: Connection, keygen: KeyGenerator) -> list[str]:
    """The demo organisations that are missing."""
    created: list[str] = []
    for username, kind, name, summary in ORGANIZATIONS:
        if await actor_queries.select_actor_by_username(conn, username) is not None:
            continue
        organization = await actor_service.create_organization(
            conn,
            username,
            organization_kind=kind,
            display_name=name,
            summary=summary,
            keygen=keygen,
        )
        if username in ORGANIZATION_PLACES:
            latitude, longitude = ORGANIZATION_PLACES[username]
            await organization_queries.set_place(
                conn, organization.id, latitude=latitude, longitude=longitude
            )
        created.append(f"created {kind} @{username}")
    return created


async def _seed_located(
    conn: Connection, root: Territory, settings: Settings, clock: Clock, keygen: KeyGenerator
) -> list[str]:
    """Give the demo actors a home in the served territory and a few public posts there."""
    created: list[str] = []
    urls = Urls(settings.base_url)
    usernames = [c[0] for c in CITIZENS] + [o[0] for o in ORGANIZATIONS] + [DEMO_ADMIN]
    for username in usernames:
        actor = await actor_queries.select_actor_by_username(conn, username)
        if actor is not None and actor.home_territory_id is None:
            await actor_queries.update_home_territory(conn, actor.id, root.id)
    for username, text in DEMO_POSTS:
        author = await actor_queries.select_actor_by_username(conn, username)
        if author is None or await post_queries.count_author_posts(conn, urls.actor(username)):
            continue
        await territory_service.write_note(
            conn,
            actor=author,
            text=text,
            visibility="public",
            place=root,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
            local_host=settings.host,
            resolved={},
        )
        created.append(f"posted as @{username} in {root.name}")
    created += await _seed_places(conn, root, urls, clock, keygen)
    created += await _seed_project(conn, root, urls, clock, keygen)
    return created + await _seed_listing(conn, root, settings, urls, clock, keygen)


async def _seed_places(
    conn: Connection, root: Territory, urls: Urls, clock: Clock, keygen: KeyGenerator
) -> list[str]:
    """A few points of interest in the served territory, once."""
    if await poi_queries.select_in_scope(conn, root.id, limit=1):
        return []
    created: list[str] = []
    for username, kind, name, text, (latitude, longitude), street in DEMO_PLACES:
        author = await actor_queries.select_actor_by_username(conn, username)
        if author is None:
            continue
        await poi_service.create_place(
            conn,
            actor=author,
            data=poi_service.PlaceInput(
                kind=kind,
                name=name,
                description=text,
                latitude=latitude,
                longitude=longitude,
                address=Address(street, "", root.name),
            ),
            territory=root,
            root=root,
            urls=urls,
            clock=clock,
            keygen=keygen,
        )
        created.append(f"placed {name} as @{username}")
    return created


async def _seed_project(
    conn: Connection, root: Territory, urls: Urls, clock: Clock, keygen: KeyGenerator
) -> list[str]:
    """A project Camille started (the demo organisations have no admins to carry one), with one
    need, once."""
    creator_name, username, name, summary = DEMO_PROJECT
    creator = await actor_queries.select_actor_by_username(conn, creator_name)
    if creator is None or await actor_queries.select_actor_by_username(conn, username) is not None:
        return []
    env = OrganizationEnv(urls=urls, clock=clock)
    project = await project_service.create(
        conn,
        creator=creator,
        username=username,
        fields=ProjectFields(maturity="started", license="CC BY-SA 4.0", territory_id=root.id),
        keygen=keygen,
        env=env,
        root=root,
        display_name=name,
        summary=summary,
    )
    title, text = DEMO_NEED
    await need_service.create_need(
        conn,
        owner=project,
        by=creator,
        values=need_service.need_input(
            title=title,
            description=text,
            kind="volunteering",
            quantity="3",
            starts_on="",
            ends_on="",
        ),
        env=env,
    )
    return [f"started project @{username}", f"asked for {title}"]


async def _seed_listing(
    conn: Connection,
    root: Territory,
    settings: Settings,
    urls: Urls,
    clock: Clock,
    keygen: KeyGenerator,
) -> list[str]:
    """One classified in the served territory, once."""
    username, title, text = DEMO_LISTING
    author = await actor_queries.select_actor_by_username(conn, username)
    if author is None or await listing_queries.select_live(
        conn, clock.now(), limit=1, scope_id=root.id
    ):
        return []
    await listing_service.create_listing(
        conn,
        author=author,
        by=author,
        data=listing_service.ListingInput(
            kind="classified",
            section="for_sale",
            category="leisure",
            title=title,
            description=text,
            price=Decimal(25),
            currency="EUR",
        ),
        place=root,
        root=root,
        env=listing_service.Env(urls, clock, keygen, settings.host),
    )
    return [f"listed {title} as @{username}"]
