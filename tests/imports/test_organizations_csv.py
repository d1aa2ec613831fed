"""Organisations from a CSV: the dry run's plan, the apply (one transaction, provenance, audit),
the same file again changing nothing, an edited file updating one row, a Latin-1 file with `;`,
and hostile cells and files refused or cleaned with their reasons, never half applied."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from quart.typing import TestClientProtocol

from fedicity.accounts import service as accounts
from fedicity.activitypub.fetch.poster import new_delivery_client
from fedicity.activitypub.httpsig import ParsedSignature, parse_signature, verify
from fedicity.activitypub.keys import load_public_key
from fedicity.actors import queries as actor_queries
from fedicity.audit.models import account_actor
from fedicity.clock import FrozenClock
from fedicity.db.pool import Connection, Pool
from fedicity.follows import queries as follow_queries
from fedicity.imports import queries
from fedicity.imports.files import FileRefused
from fedicity.imports.organizations_csv import Importer, MappingError, guess_mapping, import_file
from fedicity.organizations import queries as organization_queries
from fedicity.organizations.posting import post_on_wall
from fedicity.organizations.service import Env
from fedicity.territories.importer import import_territories
from fedicity.urls import Urls
from fedicity.workers.delivery import deliver_batch
from tests.conftest import FixedKeys, fixed_keypairs
from tests.inbox_helpers import seed_remote_actor
from tests.peer import Peer, Posted, running_peer
from tests.territory_helpers import HEADER, ROWS

# An extract of the RNA register's columns (its header, as data.gouv.fr ships it).
RNA = (
    "id;siret;titre;objet;adrs_numvoie;adrs_typevoie;adrs_libvoie;adrs_codeinsee;"
    "adrs_codepostal;adrs_libcommune;siteweb\n"
    "W931000001;;AMAP des Chavaux;Paniers de légumes;12;RUE;de Paris;93048;93100;Montreuil;"
    "amap.example\n"
    "W931000002;;Les Murs à Pêches;Jardins;;;;93048;93100;Montreuil;https://mursapeches.example\n"
    ";;Club de lecture;Lire ensemble;3;AV;Gambetta;93006;93170;Bagnolet;\n"
)


async def slice_without_centres(pool: Pool, directory: Path) -> None:
    """The Montreuil/Bagnolet slice with no coordinates, as the shipped file is."""
    rows = [",".join([*r.split(",")[:11], "", "", ""]) for r in ROWS]
    path = directory / "slice.csv"
    await asyncio.to_thread(path.write_text, "\n".join([HEADER, *rows]) + "\n", "utf-8")
    async with pool.acquire() as conn:
        report = await import_territories(conn, path, source_format="csv")
    assert not report.skipped


async def importer(conn: Connection, keygen: FixedKeys, clock: FrozenClock) -> Importer:
    """The instance admin `alice`, who applies the files."""
    account = await accounts.register(
        conn, username="alice", password="correct horse battery", keygen=keygen, is_admin=True
    )
    admin = await actor_queries.select_actor_by_id(conn, account.actor_id)
    assert admin is not None
    return Importer(
        by=account_actor(account.id, "alice"),
        admin=admin,
        keygen=keygen,
        env=Env(Urls("http://fedicity.test"), clock),
    )


def outcomes(plan: Any) -> list[tuple[int, str, tuple[str, ...], str]]:
    """(line, outcome, fields, reason) of every row."""
    return [(r.line, r.outcome, r.fields, r.reason) for r in plan.rows]


async def test_dry_run_apply_again_and_an_edited_file(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    await slice_without_centres(pool, tmp_path)
    async with pool.acquire() as conn:
        who = await importer(conn, keygen, clock)
        data = RNA.encode()
        mapping = guess_mapping(RNA.split("\n")[0].split(";"))
        assert mapping == {
            "name": "titre",
            "official_id": "id",
            "address": "adrs_numvoie+adrs_typevoie+adrs_libvoie",
            "postal_code": "adrs_codepostal",
            "commune": "adrs_codeinsee",
            "website": "siteweb",
            "description": "objet",
        }

        dry, used = await import_file(
            conn, data, label="rna.csv", mapping=None, importer=who, dry_run=True
        )
        assert used == mapping
        assert [(r.line, r.outcome, r.external_id) for r in dry.rows] == [
            (2, "created", "RNA:W931000001"),
            (3, "created", "RNA:W931000002"),
            (4, "created", "name:club_de_lecture|93006"),
        ]
        assert not dry.applied
        assert await queries.select_file_source(conn, "organizations_csv", "rna.csv") is None
        assert await queries.select_local_organizations(conn) == []

        applied, _ = await import_file(
            conn, data, label="rna.csv", mapping=None, importer=who, dry_run=False
        )
        assert applied.applied
        assert applied.summary() == "3 created, 0 updated, 0 unchanged, 0 refused"
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
        amap = orgs["AMAP des Chavaux"]
        assert amap["username"] == "amap_des_chavaux"
        assert amap["summary"] == "Paniers de légumes"
        assert (amap["official_id_kind"], amap["official_id_value"]) == ("RNA", "W931000001")
        assert amap["address"] == "12 RUE de Paris"
        assert amap["website"] == "https://amap.example"
        assert amap["postal_code"] == "93100"
        settings = await organization_queries.select_settings(conn, amap["id"])
        assert settings.official_identifier is not None
        assert settings.official_identifier.verified_by is not None
        membership = await organization_queries.select_membership(
            conn, amap["id"], "http://fedicity.test/actors/alice"
        )
        assert membership is not None
        assert membership.is_admin
        (where,) = await queries.provenance_of(conn, "organization", amap["id"])
        assert (where.source_label, where.row_number, where.external_id) == (
            "rna.csv",
            2,
            "RNA:W931000001",
        )
        audit = await conn.fetch("SELECT action, target, details FROM audit_log")
        assert [(a["action"], a["target"]) for a in audit] == [("import.organizations", "rna.csv")]

        clock.advance(timedelta(hours=1))
        again, _ = await import_file(
            conn, data, label="rna.csv", mapping=None, importer=who, dry_run=False
        )
        assert [r.outcome for r in again.rows] == ["unchanged"] * 3
        assert len(await queries.select_local_organizations(conn)) == 3

        edited = RNA.replace("Paniers de légumes", "Paniers bio").encode()
        dry, _ = await import_file(
            conn, edited, label="rna.csv", mapping=None, importer=who, dry_run=True
        )
        assert outcomes(dry)[0] == (2, "updated", ("summary",), "")
        await import_file(conn, edited, label="rna.csv", mapping=None, importer=who, dry_run=False)
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
        assert orgs["AMAP des Chavaux"]["summary"] == "Paniers bio"
        assert orgs["Les Murs à Pêches"]["summary"] == "Jardins"
        # Another file naming the same register number finds the same organisation.
        other, _ = await import_file(
            conn,
            b"rna,nom\nW931000002,Les Murs a Peches\n",
            label="commune.csv",
            mapping=None,
            importer=who,
            dry_run=True,
        )
        assert outcomes(other) == [(2, "updated", ("display_name",), "")]
        assert other.rows[0].object_id == orgs["Les Murs à Pêches"]["id"]


async def rna_applied(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> tuple[Importer, dict[str, dict[str, Any]]]:
    """The slice, its admin, and the RNA extract applied: (importer, organisations by name)."""
    await slice_without_centres(pool, tmp_path)
    async with pool.acquire() as conn:
        who = await importer(conn, keygen, clock)
        await import_file(
            conn, RNA.encode(), label="rna.csv", mapping=None, importer=who, dry_run=False
        )
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
    return who, orgs


def _signer(post: Posted, peer: Peer, pem: str, clock: FrozenClock) -> str:
    """The key id of a POST the peer received, after checking its signature with `pem`."""
    parsed = parse_signature("POST", peer.url(post.path), post.headers)
    assert isinstance(parsed, ParsedSignature), parsed
    failure = verify(
        parsed,
        load_public_key(pem),
        method="POST",
        body=post.body,
        headers=post.headers,
        now=clock.now(),
        authority=peer.host,
    )
    assert failure is None, failure
    return parsed.key_id


async def test_imported_organisations_get_keys_on_first_use_and_federate_changes(
    client: TestClientProtocol,
    pool: Pool,
    keygen: FixedKeys,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    who, orgs = await rna_applied(pool, keygen, clock, tmp_path)
    async with pool.acquire() as conn:
        # Applying made no keys: each is made when first needed.
        keyless = [await actor_queries.select_actor_by_id(conn, o["id"]) for o in orgs.values()]
        assert [(a.public_key_pem, a.private_key_pem) for a in keyless if a] == [(None, None)] * 3

    # WebFinger names the actor without needing a key.
    found = await client.get(
        "/.well-known/webfinger", query_string={"resource": "acct:amap_des_chavaux@fedicity.test"}
    )
    assert found.status_code == 200
    links = (await found.get_json())["links"]
    assert {
        "rel": "self",
        "type": "application/activity+json",
        "href": "http://fedicity.test/actors/amap_des_chavaux",
    } in links
    # The actor document makes its key, and says the same one each time.
    headers = {"Accept": "application/activity+json"}
    first = await (await client.get("/actors/amap_des_chavaux", headers=headers)).get_json()
    again = await (await client.get("/actors/amap_des_chavaux", headers=headers)).get_json()
    amap_pem = first["publicKey"]["publicKeyPem"]
    assert amap_pem
    assert amap_pem == again["publicKey"]["publicKeyPem"]
    assert first["type"] == "Organization"
    assert first["members"].endswith("/members")
    async with pool.acquire() as conn:
        amap = await actor_queries.select_actor_by_id(conn, orgs["AMAP des Chavaux"]["id"])
        assert amap is not None
        assert amap.public_key_pem == amap_pem
        assert amap.private_key_pem is not None

    async with running_peer() as peer, new_delivery_client(allow_private_addresses=True) as http:
        # A follower on a loopback server follows the AMAP and the club.
        ana = await seed_remote_actor(
            pool, peer.url("/users/ana"), fixed_keypairs()[-1], clock.now()
        )
        async with pool.acquire() as conn:
            for name in ("amap_des_chavaux", "club_de_lecture"):
                await follow_queries.upsert_follow(
                    conn,
                    follower=ana.uri,
                    followee=f"http://fedicity.test/actors/{name}",
                    activity_uri=None,
                    accepted=True,
                    now=clock.now(),
                )
            # An edited file: the AMAP's and the Murs' descriptions change, the club's does not.
            edited = RNA.replace("Paniers de légumes", "Paniers bio").replace("Jardins", "Vergers")
            plan, _ = await import_file(
                conn, edited.encode(), label="rna.csv", mapping=None, importer=who, dry_run=False
            )
            assert [r.outcome for r in plan.rows] == ["updated", "updated", "unchanged"]
            sent = await conn.fetch(
                "SELECT a.username, o.type, o.raw FROM outbox_activities o"
                " JOIN actors a ON a.id = o.actor_id ORDER BY o.id"
            )
            # One Update, by the AMAP: nobody ever read the Murs' document (it has no key yet).
            assert [(r["username"], r["type"]) for r in sent] == [("amap_des_chavaux", "Update")]
            update = sent[0]["raw"]
            assert update["object"]["summary"] == "<p>Paniers bio</p>\n"
            assert update["object"]["publicKey"]["publicKeyPem"] == amap_pem
            assert update["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
            murs = await actor_queries.select_actor_by_id(conn, orgs["Les Murs à Pêches"]["id"])
            assert murs is not None
            assert murs.public_key_pem is None
            # The first post on the club's wall: the club announces it, with a key made for it.
            club = await actor_queries.select_actor_by_id(conn, orgs["Club de lecture"]["id"])
            assert club is not None
            assert club.private_key_pem is None
            await post_on_wall(
                conn,
                organization=club,
                author=who.admin,
                text="Prochaine lecture jeudi",
                env=who.env,
                local_host="fedicity.test",
                resolved={},
            )
            club = await actor_queries.select_actor_by_id(conn, club.id)
            assert club is not None
            assert club.public_key_pem is not None
        assert await deliver_batch(pool, http, urls=who.env.urls, clock=clock) == 2
        # Each delivery is signed by its organisation's key, the one its document publishes.
        signers = {
            json_type(post): _signer(post, peer, pem, clock)
            for post, pem in zip(
                sorted(peer.posted, key=json_type), [club.public_key_pem, amap_pem], strict=True
            )
        }
        assert signers == {
            "Announce": "http://fedicity.test/actors/club_de_lecture#main-key",
            "Update": "http://fedicity.test/actors/amap_des_chavaux#main-key",
        }
    club_doc = await (await client.get("/actors/club_de_lecture", headers=headers)).get_json()
    assert club_doc["publicKey"]["publicKeyPem"] == club.public_key_pem
    async with pool.acquire() as conn:
        # Keys were made for two organisations only (the AMAP's document, the club's post).
        keyless_now = await conn.fetchval(
            "SELECT count(*) FROM actors WHERE kind = 'organization' AND public_key_pem IS NULL"
        )
        assert keyless_now == 1


def json_type(post: Posted) -> str:
    """The type of the activity a POST carried."""
    kind: str = json.loads(post.body)["type"]
    return kind


async def test_a_file_without_communes_matches_by_name_in_any_commune(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    who, orgs = await rna_applied(pool, keygen, clock, tmp_path)
    async with pool.acquire() as conn:
        club = orgs["Club de lecture"]
        bagnolet = club["home_territory_id"]
        assert bagnolet is not None

        # No commune column: the one club of that name, in Bagnolet, is found (not duplicated).
        names = b"nom,objet\nClub de lecture,Lire et relire\nNouveau club,Jouer\n"
        plan, _ = await import_file(
            conn, names, label="noms.csv", mapping=None, importer=who, dry_run=False
        )
        assert outcomes(plan) == [
            (2, "updated", ("summary",), ""),
            (3, "created", ("display_name", "summary"), ""),
        ]
        assert plan.rows[0].object_id == club["id"]
        # A commune column with a blank cell says nothing either: the club stays in Bagnolet.
        blank = b"nom,commune\nClub de lecture,\n"
        plan, _ = await import_file(
            conn, blank, label="vide.csv", mapping=None, importer=who, dry_run=False
        )
        assert outcomes(plan) == [(2, "unchanged", (), "")]
        assert plan.rows[0].object_id == club["id"]
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
        assert orgs["Club de lecture"]["home_territory_id"] == bagnolet
        assert orgs["Club de lecture"]["summary"] == "Lire et relire"

        # A namesake in Montreuil: the name alone no longer chooses, and the row says so.
        await import_file(
            conn,
            b"nom,code_insee\nClub de lecture,93048\n",
            label="montreuil.csv",
            mapping=None,
            importer=who,
            dry_run=False,
        )
        # (the file applied before keeps finding its club: its rows' provenance names it)
        again, _ = await import_file(
            conn, names, label="noms.csv", mapping=None, importer=who, dry_run=True
        )
        assert again.rows[0].object_id == club["id"]
        plan, _ = await import_file(
            conn, names, label="autres.csv", mapping=None, importer=who, dry_run=False
        )
        assert outcomes(plan)[0] == (
            2,
            "refused",
            (),
            "2 organisations are named 'Club de lecture' in different communes: "
            "give the commune to choose",
        )
        assert outcomes(plan)[1][1] == "unchanged"
        count = await conn.fetchval(
            "SELECT count(*) FROM actors WHERE display_name = 'Club de lecture'"
        )
        assert count == 2


HOSTILE = (
    "\ufeffnom,rna,siteweb,courriel,code_insee,latitude,longitude\n"
    '=HYPERLINK("http://evil.example"),,,,93048,,\n'
    "Nul\x00 Part,,javascript:alert(1),not-an-address,93048,48.86,2.44\n"
    "Ailleurs,W12,,,93048,,\n"
    "Inconnue,,,,99999,,\n"
    "Trop loin,,,,93048,123,2\n"
    f"{'x' * 101},,,,93048,,\n"
    "Nul Part,,,,93048,,\n"
    ",,,,93048,,\n"
)


async def test_hostile_cells_and_files(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    await slice_without_centres(pool, tmp_path)
    async with pool.acquire() as conn:
        who = await importer(conn, keygen, clock)
        plan, mapping = await import_file(
            conn, HOSTILE.encode(), label="x.csv", mapping=None, importer=who, dry_run=False
        )
        assert mapping["name"] == "nom"  # the BOM is not part of the first column's name
        got = outcomes(plan)
        assert got[0][1:] == ("refused", (), got[0][3])
        assert "spreadsheet formula" in got[0][3]
        assert got[1][1] == "created"
        assert plan.rows[1].title == "Nul Part"
        assert any("javascript:" in n for n in plan.rows[1].notes)
        assert any("not-an-address" in n for n in plan.rows[1].notes)
        assert any("control characters" in n for n in plan.rows[1].notes)
        assert "neither an RNA number" in got[2][3]
        assert "not one this instance knows" in got[3][3]
        assert "latitude '123' is not between" in got[4][3]
        assert "longer than 100" in got[5][3]
        assert got[6][3] == "the same organisation as line 3"
        assert got[7][3] == "the name is empty"
        (made,) = await queries.select_local_organizations(conn)
        assert (made["display_name"], made["website"], made["email"]) == ("Nul Part", None, None)
        assert (made["latitude"], made["longitude"]) == (48.86, 2.44)

        bad_files: list[tuple[bytes, str]] = [
            (b'nom,rna\n"AMAP,W931000001\nautre,W931000002\n', "unreadable CSV"),
            (("," * 100_000 + "\n").encode(), "more than 200 columns"),
            (b"", "empty"),
            (b"nom\n" + b"x\n" * 2001, "more than 2000 rows"),
            (b"x" * (5 * 1024 * 1024 + 1), "larger than 5 MiB"),
        ]
        for data, reason in bad_files:
            with pytest.raises(FileRefused, match=reason):
                await import_file(
                    conn, data, label="bad.csv", mapping=None, importer=who, dry_run=False
                )
        with pytest.raises(MappingError):
            await import_file(
                conn,
                b"a,b\n1,2\n",
                label="bad.csv",
                mapping={"name": "missing"},
                importer=who,
                dry_run=False,
            )
        # A row that fails while being written undoes the whole file: nothing half applied.
        await conn.execute(
            "ALTER TABLE organizations ADD CONSTRAINT test_no_zut CHECK (address <> 'zut')"
        )
        try:
            with pytest.raises(asyncpg.CheckViolationError, match="test_no_zut"):
                await import_file(
                    conn,
                    b"nom,adresse\nPremier,ici\nSecond,zut\n",
                    label="half.csv",
                    mapping=None,
                    importer=who,
                    dry_run=False,
                )
        finally:
            await conn.execute("ALTER TABLE organizations DROP CONSTRAINT test_no_zut")
        assert len(await queries.select_local_organizations(conn)) == 1
        assert await queries.select_file_source(conn, "organizations_csv", "half.csv") is None


async def test_a_latin1_file_with_semicolons(
    pool: Pool, keygen: FixedKeys, clock: FrozenClock, tmp_path: Path
) -> None:
    await slice_without_centres(pool, tmp_path)
    async with pool.acquire() as conn:
        who = await importer(conn, keygen, clock)
        data = (
            "Nom;Type;Commune;Code postal;Site\n"
            "Comité des fêtes;Association;Montreuil;93100;www.fetes.example\n"
            "Mairie de Bagnolet;Collectivité;Bagnolet;;\n"
        ).encode("cp1252")
        plan, mapping = await import_file(
            conn, data, label="liste.csv", mapping=None, importer=who, dry_run=False
        )
        assert mapping == {
            "name": "Nom",
            "kind": "Type",
            "postal_code": "Code postal",
            "commune": "Commune",
            "website": "Site",
        }
        assert [r.outcome for r in plan.rows] == ["created", "created"]
        orgs = {o["display_name"]: o for o in await queries.select_local_organizations(conn)}
        assert set(orgs) == {"Comité des fêtes", "Mairie de Bagnolet"}
        assert orgs["Mairie de Bagnolet"]["organization_kind"] == "local_government"
        assert orgs["Comité des fêtes"]["website"] == "https://www.fetes.example"
        montreuil = await conn.fetchval("SELECT id FROM territories WHERE code = '93048'")
        assert orgs["Comité des fêtes"]["home_territory_id"] == montreuil
