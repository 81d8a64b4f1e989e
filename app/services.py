"""The app's services, built once from the settings and reached through one typed accessor."""

import os
from dataclasses import dataclass

from flask import current_app

from app.catalog.examples import load_examples
from app.catalog.model_list import ModelCatalogue
from app.catalog.profiles import Profiles, load_profiles
from app.core.config import Settings
from app.core.instance import use_instance_id
from app.jobs.follower import Follower
from app.jobs.spending_guard import Allowance, Budgets, rules_from
from app.jobs.store import JobStore
from app.media.archive import VideoArchive
from app.media.images import UploadStore
from app.storage.database import open_database
from app.storage.objects import ObjectStore
from app.storage.sessions import SessionRegistry
from app.upstream import VideoAPI


@dataclass(frozen=True)
class Services:
    """Everything a view needs beyond the request: one object, built by build_services()."""

    settings: Settings
    api: VideoAPI
    store: JobStore
    archive: VideoArchive
    uploads: UploadStore
    catalogue: ModelCatalogue
    allowance: Allowance
    follower: Follower
    sessions: SessionRegistry | None  # only with a team password (APP_PASSWORD)
    examples: tuple = ()  # the examples shown above the form
    profiles: Profiles = Profiles([])  # what each model family accepts


def build_services(settings: Settings) -> Services:
    """Create the client, the stores and the follower (not started) for these settings."""
    use_instance_id(settings.instance_id)  # the name on this instance's sends and claims
    api = VideoAPI(
        settings.video_api_base_url,
        settings.video_api_key,
        connect_timeout=settings.video_api_connect_timeout,
        read_timeout=settings.video_api_timeout,
        send_aliases=settings.send_compat_aliases,
        allowed_private_hosts=settings.allowed_private_hosts,
        user_info=settings.video_api_user_info,
        flavor=settings.video_api_flavor,
        image_base64_format=settings.image_base64_format,
    )
    database = open_database(settings.database_url, os.path.join(settings.data_dir, "jobs.sqlite3"))
    store = JobStore(database, journal_dir=settings.data_dir)
    archive = VideoArchive(
        os.path.join(settings.data_dir, "archive"),
        max_bytes=int(settings.archive_max_mb * 1024 * 1024),
        max_age_seconds=settings.archive_max_days * 86400,
        max_file_bytes=int(settings.video_max_mb * 1024 * 1024),
        fetch_seconds=settings.archive_fetch_seconds,
        objects=ObjectStore(settings.object_store_url) if settings.object_store_url else None,
    )
    uploads = UploadStore(os.path.join(settings.data_dir, "uploads"), archive.objects)
    follower = Follower(
        api,
        store,
        archive,
        uploads,
        min_interval=settings.status_cache_seconds,
        status_threads=max(1, settings.follower_concurrency),
        max_reads_per_second=max(1.0, settings.follower_reads_per_second),
        stall_after=settings.stall_after_minutes * 60,
        status_timeout=min(settings.video_api_timeout, 20.0),
        connect_timeout=settings.video_api_connect_timeout,
        send_window=settings.video_api_connect_timeout + settings.video_api_timeout + 120,
        upload_max_age=settings.upload_keep_days * 86400,
    )
    sessions = (
        SessionRegistry(database, settings.secret_key, settings.app_password)
        if settings.auth_mode == "password"
        else None
    )
    return Services(
        settings=settings,
        api=api,
        store=store,
        archive=archive,
        uploads=uploads,
        catalogue=ModelCatalogue(api, settings.models_cache_seconds),
        allowance=Allowance(
            database,
            rules_from(settings.submit_rate_limit, settings.daily_submit_cap),
            settings.team_daily_cap,
            Budgets(settings.team_daily_budget, settings.person_daily_budget),
        ),
        follower=follower,
        sessions=sessions,
        examples=tuple(load_examples(settings.examples_file or None)),
        profiles=load_profiles(settings.model_profiles_file or None),
    )


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["studio"]
