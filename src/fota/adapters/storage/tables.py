"""Table definitions (SQLAlchemy Core). Migrations under `migrations/` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

from fota.adapters.storage.types import UTCDateTime

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("license_count", Integer, nullable=False),
    Column("licenses_used", Integer, nullable=False, default=0),
    Column("purchase_type", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Campaigns of this account accept only firmware whose image carries a verified publisher signature.
    Column("require_signed_firmware", Boolean, nullable=False, default=False, server_default=false()),
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("account_name", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("account_name", String(64), ForeignKey("accounts.name"), primary_key=True),
    Column("username", String(128), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("account_name", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(15), primary_key=True),
    Column("account_name", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("mdn", String(32), nullable=True),
    Column("make", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("firmware", String(128), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("firmware_updated_at", UTCDateTime, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=True),
    # The device's IANA zone and who set it (`admin` or `device`, see domain.devices.ZoneSource); both NULL when
    # it has none.
    Column("time_zone", String(64), nullable=True),
    Column("time_zone_source", String(8), nullable=True),
    Index("ix_devices_account_protocol", "account_name", "protocol", "device_id"),
    Index("ix_devices_match", "account_name", "make", "model", "firmware"),
)

# A device holds one of its account's licenses while it has a row here. Assigning a fleet's licenses is then an
# insert of narrow rows rather than an update of every wide device row and its indexes (docs/adr/0011).
device_licenses = Table(
    "device_licenses",
    metadata,
    Column("device_id", String(15), ForeignKey("devices.device_id"), primary_key=True),
    Column("account_name", String(64), nullable=False),
    Column("assigned_at", UTCDateTime, nullable=False),
    Index("ix_device_licenses_account", "account_name", "device_id"),
)

firmware = Table(
    "firmware",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("make", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("firmware_from", String(128), nullable=False),
    Column("firmware_to", String(128), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("release_note", Text, nullable=False, default=""),
    Column("launch_date", UTCDateTime, nullable=False),
    Column("image_size", BigInteger, nullable=True),
    Column("image_sha256", String(64), nullable=True),
    # The publisher's detached signature over the image's sha256 (base64) and the key that verified it (ADR 16).
    Column("image_signature", Text, nullable=True),
    Column("image_key_id", String(128), nullable=True),
    # "firmware" (the operator's catalogue, every account sees it) or "file" (a v2 configuration file an account
    # uploaded; only that account sees it and only it can push it).
    Column("kind", String(16), nullable=False, default="firmware", server_default="firmware"),
    Column("owner_account", String(64), nullable=True),
    Column("local_target_path", Text, nullable=True),
    Index("ix_firmware_owner_kind", "owner_account", "kind", "name"),
)

firmware_images = Table(
    "firmware_images",
    metadata,
    Column("firmware_name", String(255), ForeignKey("firmware.name"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_name", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("campaign_name", String(255), nullable=True),
    Column("firmware_name", String(255), ForeignKey("firmware.name"), nullable=False),
    Column("firmware_from", String(128), nullable=False),
    Column("firmware_to", String(128), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("make", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("windows", JSON, nullable=False),
    Column("auto_assign_license", Boolean, nullable=False),
    Column("auto_add_devices", Boolean, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("next_transition_at", UTCDateTime, nullable=True),
    # The v2 phases (domain/phases.py): `windows` above are the download windows, these gate the install.
    Column("package_kind", String(16), nullable=False, default="firmware", server_default="firmware"),
    Column("download_after", Date, nullable=True),
    Column("install_after", Date, nullable=True),
    Column("install_windows", JSON, nullable=True),
    # Rows in campaign_devices (they are never deleted), kept by every insert: a report page's totalDevice costs
    # the same at 1 000 000 devices as at 1 000.
    Column("device_count", Integer, nullable=False, default=0, server_default="0"),
    # v3's retryPolicy with every field filled in (RetryPolicy.to_plain); SQL NULL: the server's own retry rule.
    Column("retry_policy", JSON(none_as_null=True), nullable=True),
    # v3's windowZone and blackouts, and the blackout override with who set it and when (campaign_start_rule.py);
    # SQL NULL when not set: the campaign's starts follow its download windows as before.
    Column("window_zone", String(16), nullable=True),
    Column("blackouts", JSON(none_as_null=True), nullable=True),
    Column("blackout_override", JSON(none_as_null=True), nullable=True),
    # v3's bandwidth.bytesPerHour (domain/bandwidth.py); NULL: the campaign's image bytes are not budgeted.
    Column("bandwidth_bytes_per_hour", BigInteger, nullable=True),
    # The campaign this one is a follow-up of (POST .../follow-up); NULL: not a follow-up.
    Column("follow_up_of", String(36), nullable=True),
    # v3's rollout (RolloutSpec.as_dict) and its RolloutState; SQL NULL rollout: the campaign has no waves.
    Column("rollout", JSON(none_as_null=True), nullable=True),
    Column("rollout_status", String(16), nullable=True),
    Column("rollout_wave", Integer, nullable=True),
    Column("rollout_paused_reason", Text, nullable=True),
    Column("rollout_excused", Integer, nullable=True),
    # When the engine must next settle the rollout: a conclusion in its open wave (now), a soak's end or a health
    # deadline; NULL: nothing can change it until a device concludes.
    Column("rollout_check_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_campaigns_account_status", "account_name", "status", "id"),
    Index("ix_campaigns_next_transition", "next_transition_at"),
    Index("ix_campaigns_rollout_check", "rollout_check_at"),
    Index("ix_campaigns_auto_add", "account_name", "auto_add_devices", "make", "model", "firmware_from"),
)

campaign_devices = Table(
    "campaign_devices",
    metadata,
    Column("campaign_id", String(36), ForeignKey("campaigns.id"), primary_key=True),
    Column("device_id", String(15), primary_key=True),
    Column("account_name", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("recent_attempt_at", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    # The upgrade's progress while the wire status is UpgradeInProgress (see domain/upgrade.py).
    Column("step", String(16), nullable=True),
    Column("step_deadline", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("delivery", String(8), nullable=True),
    Column("update_executed_at", UTCDateTime, nullable=True),
    Column("owner", String(64), nullable=True),
    # A budgeted campaign's start grant (docs/adr/0024): the clock hour whose `campaign_bandwidth` counter the claim
    # reserved this attempt's image in, until the first block served takes it over (and clears it).
    Column("bandwidth_hour", UTCDateTime, nullable=True),
    # In a follow-up campaign: the status and result reason the device ended the source campaign with.
    Column("carried_reason", Text, nullable=True),
    # A rollout campaign's members: the wave (0-based) and what the health gate needs once they succeeded, the
    # lifetime they were judged by and the verdict (HEALTH_*: NULL while soaking), kept once given.
    Column("wave", Integer, nullable=True),
    Column("succeeded_at", UTCDateTime, nullable=True),
    Column("health_lifetime", Integer, nullable=True),
    Column("health", String(16), nullable=True),
    Index("ix_campaign_devices_device_active", "device_id", "active"),
    Index("ix_campaign_devices_campaign_active", "campaign_id", "active"),
    Index("ix_campaign_devices_deadline", "step_deadline"),
    # The console's device table filtered by status pages by device id within one status.
    Index("ix_campaign_devices_campaign_status", "campaign_id", "status", "device_id"),
    # The open wave's tally and its held devices' reasons are ranges of this; the soaking devices a check-in judges
    # are the few rows of the partial one.
    Index("ix_campaign_devices_campaign_wave", "campaign_id", "wave", "status"),
    Index(
        "ix_campaign_devices_soaking",
        "device_id",
        postgresql_where=text("succeeded_at IS NOT NULL AND health IS NULL"),
        sqlite_where=text("succeeded_at IS NOT NULL AND health IS NULL"),
    ),
)

# How often each campaign's device report has changed: triggers on campaign_devices (migration 0021) add to it with
# every transaction that inserts, deletes or changes a reported column of its rows, so an unchanged sum means an
# unchanged report (docs/adr/0043). SQLite keeps one row per campaign; PostgreSQL appends one row per transaction,
# which takes no lock another writer waits on, and the engine's sweep folds them into one.
campaign_report_changes = Table(
    "campaign_report_changes",
    metadata,
    Column("campaign_id", String(36), nullable=False),
    Column("changes", BigInteger, nullable=False),
    Index("ix_campaign_report_changes_campaign", "campaign_id"),
)

# Every pause, resume, approval and automatic decision of a campaign's rollout (and, later, blackout overrides and
# follow-ups): who, when, why, and the action's own detail.
campaign_audit = Table(
    "campaign_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("campaign_id", String(36), ForeignKey("campaigns.id"), nullable=False),
    Column("account_name", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("detail", JSON(none_as_null=True), nullable=True),
    Index("ix_campaign_audit_campaign", "campaign_id", "id"),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account_name", String(64), nullable=False),
    Column("campaign_id", String(36), nullable=True),
    Column("device_id", String(15), nullable=True),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_history_device", "account_name", "device_id", "id"),
    Index("ix_history_campaign", "campaign_id", "id"),
)

callbacks = Table(
    "callbacks",
    metadata,
    Column("account_name", String(64), ForeignKey("accounts.name"), primary_key=True),
    Column("url", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Key of the HMAC-SHA256 signature on every delivery; generated at registration.
    Column("signing_secret", String(64), nullable=True),
    # The API version the URL was registered through decides the shape of the events sent to it.
    Column("api_version", String(8), nullable=False, default="v3", server_default="v3"),
    # v1's named service registrations carry credentials that are echoed back in every message.
    Column("username", String(255), nullable=True),
    Column("password", String(255), nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("account_name", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("given_up_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_due", "next_attempt_at"),
    Index("ix_outbox_account", "account_name", "id"),
    # Finished events, for retention (services/outbox.prune); partial, so pending events cost these indexes nothing.
    Index(
        "ix_outbox_delivered",
        "delivered_at",
        postgresql_where=text("delivered_at IS NOT NULL"),
        sqlite_where=text("delivered_at IS NOT NULL"),
    ),
    Index(
        "ix_outbox_given_up",
        "given_up_at",
        postgresql_where=text("given_up_at IS NOT NULL"),
        sqlite_where=text("given_up_at IS NOT NULL"),
    ),
)

callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("account_name", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_callback_deliveries_account", "account_name", "id"),
    Index("ix_callback_deliveries_event", "event_id"),
)

registrations = Table(
    "registrations",
    metadata,
    Column("location", String(32), primary_key=True),
    Column("endpoint", String(128), nullable=False, unique=True),
    Column("device_id", String(15), nullable=False),
    Column("lifetime", Integer, nullable=False),
    Column("lwm2m_version", String(8), nullable=False),
    Column("binding", String(8), nullable=False),
    Column("address", String(128), nullable=False),
    Column("objects", Text, nullable=False),
    Column("node", String(64), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_registrations_device", "device_id"),
    Index("ix_registrations_expires", "expires_at"),
)

unknown_endpoints = Table(
    "unknown_endpoints",
    metadata,
    Column("endpoint", String(128), primary_key=True),
    Column("attempts", BigInteger, nullable=False),
    Column("last_address", String(128), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)

download_tokens = Table(
    "download_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("device_id", String(15), nullable=False),
    Column("campaign_id", String(36), nullable=False),
    Column("firmware_name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_download_tokens_expires", "expires_at"),
)

# Image bytes reserved per budgeted campaign and fixed UTC clock hour (domain/bandwidth.py, docs/adr/0024): one
# conditional upsert per reservation, from any process; rows older than a day are pruned by the engine's sweep.
campaign_bandwidth = Table(
    "campaign_bandwidth",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("hour", UTCDateTime, primary_key=True),
    Column("bytes", BigInteger, nullable=False),
)

license_cancel_candidates = Table(
    "license_cancel_candidates",
    metadata,
    Column("account_name", String(64), ForeignKey("accounts.name"), primary_key=True),
    Column("device_id", String(15), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)

firmware_report_requests = Table(
    "firmware_report_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_name", String(64), ForeignKey("accounts.name"), nullable=False),
    Column("device_id", String(15), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Index("ix_firmware_report_requests_pending", "status", "device_id"),
)

device_keys = Table(
    "device_keys",
    metadata,
    Column("device_id", String(15), ForeignKey("devices.device_id"), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row (id = 1): the simulated clock shared by every process of a multi-process deployment (adapters/storage/
# db_clock.py). Absent or unused when the server runs on the system clock or on a process-local simulated clock.
simulated_clock = Table(
    "simulated_clock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("now", UTCDateTime, nullable=False),
)

# A device's LwM2M security mode and, in psk mode, its DTLS identity and pre-shared key. The key is encrypted with
# FOTA_SECRET_KEY (adapters/psk_cipher.py): DTLS-PSK needs the key itself, so a hash would not do (ADR 0010).
device_security = Table(
    "device_security",
    metadata,
    Column("device_id", String(15), ForeignKey("devices.device_id"), primary_key=True),
    Column("mode", String(8), nullable=False),
    Column("psk_identity", String(128), nullable=True),
    Column("psk_key_encrypted", LargeBinary, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Unique: one identity names one device. Looked up inside the DTLS handshake, so it must be indexed.
    Index("ix_device_security_identity", "psk_identity", unique=True),
)

# LwM2M bootstrap (docs/adr/0013-lwm2m-bootstrap.md): the device's factory bootstrap credentials and the management
# account the bootstrap server writes into it. The management key itself lives in device_security.
device_bootstrap = Table(
    "device_bootstrap",
    metadata,
    Column("device_id", String(15), ForeignKey("devices.device_id"), primary_key=True),
    Column("bootstrap_mode", String(8), nullable=False),
    Column("bootstrap_psk_identity", String(128), nullable=True),
    Column("bootstrap_psk_key_encrypted", LargeBinary, nullable=True),
    Column("server_uri", String(255), nullable=True),
    Column("security_mode", String(8), nullable=False),
    Column("short_server_id", Integer, nullable=False),
    Column("lifetime", Integer, nullable=False),
    Column("binding", String(4), nullable=False),
    Column("disable_timeout", Integer, nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("retry_timer", Integer, nullable=False),
    Column("sequence_delay", Integer, nullable=False),
    Column("sequence_retry_count", Integer, nullable=False),
    Column("bootstraps", Integer, nullable=False, server_default=text("0")),
    Column("last_bootstrap_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Looked up inside the bootstrap server's DTLS handshake, and one identity names one device.
    Index("ix_device_bootstrap_identity", "bootstrap_psk_identity", unique=True),
)

# Charged authentication attempts of the brute-force throttle on PostgreSQL (adapters/storage/throttle_store.py):
# one row per attempt and key (a hash of client id, user or address), kept for one window. Unused on SQLite.
throttle_charges = Table(
    "throttle_charges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),
    Column("charged_at", UTCDateTime, nullable=False),
    Index("ix_throttle_charges_key", "key_hash", "charged_at"),
    Index("ix_throttle_charges_charged_at", "charged_at"),
)

# Publishers' public keys that firmware image signatures are verified with (services/signing.py). A revoked key
# verifies no new upload; it stays so that images it signed still name it.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(128), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_key_pem", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# Refusals of the CoAP registration interface per remote address and ten-second window of the database's clock,
# summed over every LwM2M process (adapters/storage/refusal_ledger.py). Unused on SQLite.
coap_refusals = Table(
    "coap_refusals",
    metadata,
    Column("address", String(64), primary_key=True),
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),
    Column("refusals", Integer, nullable=False),
)

# Devices whose logs the account collects (v2 client logging): at most 20 per account, each until `expires_at`.
device_logging = Table(
    "device_logging",
    metadata,
    Column("device_id", String(15), ForeignKey("devices.device_id"), primary_key=True),
    Column("account_name", String(64), nullable=False),
    Column("enabled_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_device_logging_account", "account_name", "device_id"),
)

# Log entries of devices with logging enabled: uploaded by HTTP devices, written by fota for LwM2M check-ins and
# upgrade steps.
device_logs = Table(
    "device_logs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account_name", String(64), nullable=False),
    Column("device_id", String(15), nullable=False),
    Column("log_time", UTCDateTime, nullable=False),
    Column("log_type", String(32), nullable=False),
    Column("event_log", Text, nullable=False),
    Column("binary_log_file_base64", Text, nullable=False),
    Column("binary_log_filename", String(255), nullable=False),
    # When fota stored the entry: retention counts from it, not from the device's own clock (log_time), which may
    # be years behind and would have an entry pruned right after its upload.
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_device_logs_device", "account_name", "device_id", "id"),
    Index("ix_device_logs_received", "received_at"),  # retention (services/device_logging.prune)
)

# Every registration, registration update and HTTP check-in fota received (v2 server logging, checkInHistory).
check_ins = Table(
    "check_ins",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("device_id", String(15), nullable=False),
    Column("client_type", String(16), nullable=False),
    Column("result", String(16), nullable=False),
    Column("failure_type", String(64), nullable=False),
    Column("completed_at", UTCDateTime, nullable=False),
    Index("ix_check_ins_device", "device_id", "id"),
    Index("ix_check_ins_completed", "completed_at"),  # retention (services/device_logging.prune)
)
