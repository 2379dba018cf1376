import Foundation

// The CloudChat schema, as versioned migrations.
//
// docs/schema.md is the contract for every table and column below: types,
// meaning, keys, states and their transitions, who writes what, where personal
// data lives and how long it is kept. Change the two together.
//
// Conventions used by every statement:
// - tables are `{prefix}cloudchat_<name>`, InnoDB, utf8mb4 / utf8mb4_unicode_ci;
// - ids are BIGINT UNSIGNED AUTO_INCREMENT; no FOREIGN KEY constraints (see
//   docs/schema.md, "No foreign keys");
// - times are DATETIME(6) in UTC and have no defaults: every writer supplies
//   them, because the bridge's connection runs in the server's time zone;
// - identifiers issued by Meta (wamid, ids, BSUIDs) and our own codes (states,
//   sources) are ASCII with a binary collation: wamids and BSUIDs are
//   case-sensitive, and a case-insensitive unique key would merge two of them;
// - state columns carry a column-level CHECK, which MariaDB enforces whatever
//   the session's sql_mode and can widen in place
//   (`ALTER TABLE … MODIFY … CHECK (…), ALGORITHM=INSTANT`);
// - every statement is safe to run again after a partial run.

/// One versioned step of the CloudChat schema. Applied in order by the migrator; each statement must be safe to run again after a partial run (MariaDB DDL commits implicitly), so use CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, CREATE INDEX IF NOT EXISTS and so on.
public struct SchemaMigration: Sendable {
    /// The schema version this step brings a site to; recorded in the site's `cloudchat_db_version` option once every statement has run.
    public let version: Int
    /// A one-line description of the step, for `cloudchatd migrate` output and logs.
    public let summary: String
    /// DDL statements. `{prefix}` stands for the site's WordPress table prefix (e.g. `wp_` or `wp_3_`), already validated to [A-Za-z0-9_]; the migrator substitutes it.
    public let statements: [String]

    /// Creates a migration step.
    ///
    /// - Parameters:
    ///   - version: the version this step brings a site to (1, 2, 3… without gaps).
    ///   - summary: a one-line description.
    ///   - statements: idempotent DDL statements using the `{prefix}` placeholder.
    public init(version: Int, summary: String, statements: [String]) {
        self.version = version
        self.summary = summary
        self.statements = statements
    }
}

extension SchemaMigration {
    /// Every migration this build knows, oldest first; versions are 1, 2, 3… without gaps.
    public static let all: [SchemaMigration] = [version1]

    /// Version 1: every CloudChat table.
    static let version1 = SchemaMigration(
        version: 1,
        summary: "Create the CloudChat tables",
        statements: [
            // MARK: accounts — one row per WhatsApp business phone number owned by this site.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_accounts` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `waba_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `phone_number_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `display_phone_number` VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `verified_name` VARCHAR(255) NULL,
              `label` VARCHAR(255) NULL,
              `app_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'active'
                CHECK (`state` IN ('active', 'halted', 'disabled')),
              `state_reason` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `access_token_ciphertext` VARBINARY(4096) NULL,
              `app_secret_ciphertext` VARBINARY(512) NULL,
              `secrets_key_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `access_token_expires_at` DATETIME(6) NULL,
              `credentials_updated_at` DATETIME(6) NULL,
              `send_rate_mps` INT UNSIGNED NOT NULL DEFAULT 80,
              `throughput_level` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `messaging_limit_tier` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `limits_updated_at` DATETIME(6) NULL,
              `quality_rating` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `quality_updated_at` DATETIME(6) NULL,
              `account_event` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `account_event_at` DATETIME(6) NULL,
              `last_error_code` INT NULL,
              `last_error_details` TEXT NULL,
              `last_error_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_phone_number_id` (`phone_number_id`),
              KEY `idx_waba_id` (`waba_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: webhook_events — every accepted webhook body, as received. The hot insert
            // table: primary key only, no secondary index (see docs/schema.md).
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_webhook_events` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `received_at` DATETIME(6) NOT NULL,
              `phone_number_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `waba_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `signature_verified` TINYINT(1) NOT NULL,
              `is_split` TINYINT(1) NOT NULL DEFAULT 0,
              `processing_state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending'
                CHECK (`processing_state` IN ('pending', 'processed', 'partial', 'invalid', 'unrouted', 'rejected', 'failed')),
              `processing_attempts` TINYINT UNSIGNED NOT NULL DEFAULT 0,
              `processed_at` DATETIME(6) NULL,
              `processing_error` VARCHAR(1024) NULL,
              `body` MEDIUMBLOB NOT NULL,
              PRIMARY KEY (`id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: contacts — one row per WhatsApp user per account.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_contacts` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `wa_id` VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NULL
                CHECK (`wa_id` REGEXP '^[1-9][0-9]{5,19}$'),
              `phone` VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NULL
                CHECK (`phone` REGEXP '^[1-9][0-9]{5,19}$'),
              `user_id` VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `parent_user_id` VARCHAR(160) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `username` VARCHAR(100) NULL,
              `profile_name` VARCHAR(255) NULL,
              `name` VARCHAR(255) NULL,
              `email` VARCHAR(254) NULL,
              `locale` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `wp_user_id` BIGINT UNSIGNED NULL,
              `custom_fields_json` LONGTEXT NULL CHECK (JSON_VALID(`custom_fields_json`)),
              `source` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `consent_state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'unknown'
                CHECK (`consent_state` IN ('unknown', 'opted_in', 'opted_out')),
              `consent_source` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `consent_changed_at` DATETIME(6) NULL,
              `restricted_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_account_wa_id` (`account_id`, `wa_id`),
              UNIQUE KEY `uniq_account_user_id` (`account_id`, `user_id`),
              KEY `idx_account_phone` (`account_id`, `phone`),
              KEY `idx_email` (`email`),
              KEY `idx_wp_user_id` (`wp_user_id`),
              CHECK (`wa_id` IS NOT NULL OR `user_id` IS NOT NULL)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: contact_tags — the tags of a contact, one row per (contact, tag).
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_contact_tags` (
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `tag` VARCHAR(64) NOT NULL,
              `created_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`contact_id`, `tag`),
              KEY `idx_tag_contact` (`tag`, `contact_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: consent_events — the history of a contact's consent and restriction.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_consent_events` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `event` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`event` IN ('opted_in', 'opted_out', 'restricted', 'unrestricted')),
              `source` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `detail` VARCHAR(255) NULL,
              `wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `webhook_event_id` BIGINT UNSIGNED NULL,
              `actor_user_id` BIGINT UNSIGNED NULL,
              `occurred_at` DATETIME(6) NOT NULL,
              `created_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_contact_occurred_event_source` (`contact_id`, `occurred_at`, `event`, `source`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: conversations — the inbox state of one contact on one account.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_conversations` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'open'
                CHECK (`state` IN ('open', 'closed')),
              `assigned_user_id` BIGINT UNSIGNED NULL,
              `unread_count` INT UNSIGNED NOT NULL DEFAULT 0,
              `last_message_id` BIGINT UNSIGNED NULL,
              `last_message_at` DATETIME(6) NULL,
              `last_inbound_at` DATETIME(6) NULL,
              `last_outbound_at` DATETIME(6) NULL,
              `last_read_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_account_contact` (`account_id`, `contact_id`),
              KEY `idx_account_last_message` (`account_id`, `last_message_at`),
              KEY `idx_assigned_last_message` (`assigned_user_id`, `last_message_at`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: messages — every message in and out, keyed by Meta's wamid.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_messages` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `direction` VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`direction` IN ('inbound', 'outbound')),
              `type` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `source` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `body` TEXT NULL,
              `payload_json` LONGTEXT NULL,
              `context_wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `target_wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `forwarded` TINYINT UNSIGNED NOT NULL DEFAULT 0 CHECK (`forwarded` IN (0, 1, 2)),
              `referral_json` LONGTEXT NULL,
              `media_id` BIGINT UNSIGNED NULL,
              `template_id` BIGINT UNSIGNED NULL,
              `outbox_id` BIGINT UNSIGNED NULL,
              `campaign_id` BIGINT UNSIGNED NULL,
              `campaign_recipient_id` BIGINT UNSIGNED NULL,
              `sent_by_user_id` BIGINT UNSIGNED NULL,
              `status` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`status` IN ('received', 'accepted', 'held', 'sent', 'delivered', 'read', 'played', 'failed')),
              `status_rank` TINYINT UNSIGNED AS (CASE `status`
                  WHEN 'received' THEN 0 WHEN 'accepted' THEN 1 WHEN 'held' THEN 2 WHEN 'sent' THEN 3
                  WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 WHEN 'played' THEN 6 WHEN 'failed' THEN 7
                END) VIRTUAL,
              `status_at` DATETIME(6) NULL,
              `sent_at` DATETIME(6) NULL,
              `delivered_at` DATETIME(6) NULL,
              `read_at` DATETIME(6) NULL,
              `played_at` DATETIME(6) NULL,
              `failed_at` DATETIME(6) NULL,
              `error_code` INT NULL,
              `error_details` TEXT NULL,
              `pricing_type` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `pricing_category` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `edited_at` DATETIME(6) NULL,
              `revoked_at` DATETIME(6) NULL,
              `message_at` DATETIME(6) NOT NULL,
              `webhook_event_id` BIGINT UNSIGNED NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_wamid` (`wamid`),
              KEY `idx_contact_message_at` (`contact_id`, `message_at`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: status_events — every status webhook item, once, even before its message is known.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_status_events` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NULL,
              `wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `status` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `status_at` DATETIME(6) NOT NULL,
              `biz_opaque_callback_data` VARCHAR(512) NULL,
              `error_code` INT NULL,
              `errors_json` LONGTEXT NULL,
              `pricing_json` LONGTEXT NULL,
              `conversation_json` LONGTEXT NULL,
              `webhook_event_id` BIGINT UNSIGNED NULL,
              `applied_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_wamid_status` (`wamid`, `status`),
              KEY `idx_contact_id` (`contact_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: media — media files received or uploaded, and the download work queue.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_media` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NULL,
              `direction` VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`direction` IN ('inbound', 'outbound')),
              `meta_media_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `meta_media_expires_at` DATETIME(6) NULL,
              `download_url` TEXT NULL,
              `mime_type` VARCHAR(127) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `sha256` VARCHAR(88) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `file_name` VARCHAR(255) NULL,
              `size_bytes` BIGINT UNSIGNED NULL,
              `storage_path` VARCHAR(1024) NULL,
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending'
                CHECK (`state` IN ('pending', 'downloading', 'stored', 'failed', 'expired')),
              `state_reason` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `attempt_count` SMALLINT UNSIGNED NOT NULL DEFAULT 0,
              `next_attempt_at` DATETIME(6) NULL,
              `claimed_at` DATETIME(6) NULL,
              `claimed_by` VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `error_code` INT NULL,
              `error_details` TEXT NULL,
              `stored_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_meta_media_id` (`meta_media_id`),
              KEY `idx_state_next_attempt` (`state`, `next_attempt_at`),
              KEY `idx_contact_id` (`contact_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: templates — message templates synced from each WABA.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_templates` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `waba_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `meta_template_id` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `name` VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `language` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `category` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `previous_category` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `status` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `status_reason` VARCHAR(255) NULL,
              `quality_score` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `parameter_format` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `components_json` LONGTEXT NOT NULL CHECK (JSON_VALID(`components_json`)),
              `status_updated_at` DATETIME(6) NULL,
              `quality_updated_at` DATETIME(6) NULL,
              `synced_at` DATETIME(6) NULL,
              `removed_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_waba_name_language` (`waba_id`, `name`, `language`),
              KEY `idx_meta_template_id` (`meta_template_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: outbox — messages WordPress or an automation wants sent (not campaigns).
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_outbox` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `priority` TINYINT UNSIGNED NOT NULL DEFAULT 1 CHECK (`priority` IN (0, 1, 2)),
              `type` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `payload_json` LONGTEXT NOT NULL CHECK (JSON_VALID(`payload_json`)),
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'queued'
                CHECK (`state` IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
              `state_reason` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `source` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `idempotency_key` VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `automation_id` BIGINT UNSIGNED NULL,
              `created_by_user_id` BIGINT UNSIGNED NULL,
              `scheduled_at` DATETIME(6) NULL,
              `next_attempt_at` DATETIME(6) NOT NULL,
              `attempt_count` SMALLINT UNSIGNED NOT NULL DEFAULT 0,
              `claimed_at` DATETIME(6) NULL,
              `claimed_by` VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `sent_at` DATETIME(6) NULL,
              `wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `message_id` BIGINT UNSIGNED NULL,
              `error_code` INT NULL,
              `error_details` TEXT NULL,
              `error_trace_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_idempotency_key` (`idempotency_key`),
              KEY `idx_claim` (`account_id`, `state`, `priority`, `next_attempt_at`),
              KEY `idx_contact_id` (`contact_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: campaigns — template broadcasts.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_campaigns` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NOT NULL,
              `name` VARCHAR(255) NOT NULL,
              `template_id` BIGINT UNSIGNED NOT NULL,
              `template_name` VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `template_language` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `variables_json` LONGTEXT NULL CHECK (JSON_VALID(`variables_json`)),
              `audience_json` LONGTEXT NULL CHECK (JSON_VALID(`audience_json`)),
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'draft'
                CHECK (`state` IN ('draft', 'scheduled', 'running', 'paused', 'halted', 'completed', 'cancelled')),
              `state_reason` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `error_code` INT NULL,
              `error_details` TEXT NULL,
              `scheduled_at` DATETIME(6) NULL,
              `resume_at` DATETIME(6) NULL,
              `rate_limit_mps` DECIMAL(9,3) UNSIGNED NULL,
              `recipients_total` INT UNSIGNED NULL,
              `results_json` LONGTEXT NULL CHECK (JSON_VALID(`results_json`)),
              `materialized_at` DATETIME(6) NULL,
              `started_at` DATETIME(6) NULL,
              `paused_at` DATETIME(6) NULL,
              `halted_at` DATETIME(6) NULL,
              `completed_at` DATETIME(6) NULL,
              `cancelled_at` DATETIME(6) NULL,
              `created_by_user_id` BIGINT UNSIGNED NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              KEY `idx_state_scheduled_at` (`state`, `scheduled_at`),
              KEY `idx_account_state` (`account_id`, `state`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: campaign_recipients — one row per (campaign, contact), the unit of exactly-once sending.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_campaign_recipients` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `campaign_id` BIGINT UNSIGNED NOT NULL,
              `contact_id` BIGINT UNSIGNED NOT NULL,
              `state` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending'
                CHECK (`state` IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped')),
              `state_rank` TINYINT UNSIGNED AS (CASE `state`
                  WHEN 'pending' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
                  WHEN 'read' THEN 4 WHEN 'failed' THEN 5 WHEN 'skipped' THEN 5
                END) VIRTUAL,
              `state_reason` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `variables_json` LONGTEXT NULL CHECK (JSON_VALID(`variables_json`)),
              `attempt_count` SMALLINT UNSIGNED NOT NULL DEFAULT 0,
              `next_attempt_at` DATETIME(6) NOT NULL,
              `claimed_at` DATETIME(6) NULL,
              `claimed_by` VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `wamid` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `message_id` BIGINT UNSIGNED NULL,
              `error_code` INT NULL,
              `error_details` TEXT NULL,
              `sent_at` DATETIME(6) NULL,
              `delivered_at` DATETIME(6) NULL,
              `read_at` DATETIME(6) NULL,
              `failed_at` DATETIME(6) NULL,
              `replied_at` DATETIME(6) NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_campaign_contact` (`campaign_id`, `contact_id`),
              KEY `idx_campaign_state_next_attempt` (`campaign_id`, `state`, `next_attempt_at`),
              KEY `idx_contact_sent_at` (`contact_id`, `sent_at`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: automations — keyword replies, opt-out/opt-in keywords, lead intake.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_automations` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `account_id` BIGINT UNSIGNED NULL,
              `name` VARCHAR(255) NOT NULL,
              `kind` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`kind` IN ('keyword_reply', 'opt_out_keywords', 'opt_in_keywords', 'lead_intake')),
              `is_enabled` TINYINT(1) NOT NULL DEFAULT 1,
              `position` INT NOT NULL DEFAULT 0,
              `trigger_json` LONGTEXT NOT NULL CHECK (JSON_VALID(`trigger_json`)),
              `action_json` LONGTEXT NULL CHECK (JSON_VALID(`action_json`)),
              `lead_source` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `lead_secret_ciphertext` VARBINARY(512) NULL,
              `secrets_key_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `created_by_user_id` BIGINT UNSIGNED NULL,
              `created_at` DATETIME(6) NOT NULL,
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_lead_source` (`lead_source`),
              KEY `idx_kind_position` (`kind`, `position`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: audit_log — who did what, never with message bodies or contacts' personal data.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_audit_log` (
              `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
              `occurred_at` DATETIME(6) NOT NULL,
              `actor_type` VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
                CHECK (`actor_type` IN ('wp_user', 'daemon', 'cli')),
              `actor_user_id` BIGINT UNSIGNED NULL,
              `actor_label` VARCHAR(128) NULL,
              `action` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `object_type` VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `object_id` BIGINT UNSIGNED NULL,
              `account_id` BIGINT UNSIGNED NULL,
              `details_json` LONGTEXT NULL CHECK (JSON_VALID(`details_json`)),
              PRIMARY KEY (`id`),
              KEY `idx_object` (`object_type`, `object_id`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,

            // MARK: leases — named leases between daemons (per-number senders, singleton workers),
            // with the progress their holder has made.
            """
            CREATE TABLE IF NOT EXISTS `{prefix}cloudchat_leases` (
              `name` VARCHAR(191) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
              `owner_id` VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
              `epoch` BIGINT UNSIGNED NOT NULL DEFAULT 0,
              `acquired_at` DATETIME(6) NULL,
              `renewed_at` DATETIME(6) NULL,
              `expires_at` DATETIME(6) NULL,
              `progress_id` BIGINT UNSIGNED NULL,
              `state_json` LONGTEXT NULL CHECK (JSON_VALID(`state_json`)),
              `updated_at` DATETIME(6) NOT NULL,
              PRIMARY KEY (`name`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            """,
        ]
    )
}

/// Every CloudChat table, by its name without the WordPress prefix (e.g. "cloudchat_messages").
///
/// The full name of a table is the site's table prefix followed by the raw value,
/// e.g. `wp_3_cloudchat_messages`. docs/schema.md describes each one.
public enum CloudChatTable: String, CaseIterable, Sendable {
    /// WhatsApp business phone numbers owned by the site, with their encrypted credentials.
    case accounts = "cloudchat_accounts"
    /// Every accepted webhook body, as received; the replayable source of ingest.
    case webhookEvents = "cloudchat_webhook_events"
    /// WhatsApp users, one per (account, wa_id or BSUID).
    case contacts = "cloudchat_contacts"
    /// Tags on contacts, one row per (contact, tag).
    case contactTags = "cloudchat_contact_tags"
    /// The history of each contact's consent and restriction.
    case consentEvents = "cloudchat_consent_events"
    /// Inbox state per contact: last inbound time (the 24-hour window), unread count, assignment.
    case conversations = "cloudchat_conversations"
    /// Every message in and out, keyed by wamid, with its current status.
    case messages = "cloudchat_messages"
    /// Every status webhook item received, once per (wamid, status).
    case statusEvents = "cloudchat_status_events"
    /// Media files received or uploaded, and the download queue.
    case media = "cloudchat_media"
    /// Message templates synced from each WhatsApp Business Account.
    case templates = "cloudchat_templates"
    /// Single messages waiting to be sent or sent (agent replies, automations, WordPress).
    case outbox = "cloudchat_outbox"
    /// Template broadcast campaigns.
    case campaigns = "cloudchat_campaigns"
    /// One row per (campaign, contact): the per-recipient sending state.
    case campaignRecipients = "cloudchat_campaign_recipients"
    /// Keyword replies, opt-out and opt-in keywords, lead-intake rules.
    case automations = "cloudchat_automations"
    /// Who did what, without personal data of contacts.
    case auditLog = "cloudchat_audit_log"
    /// Leases between daemons (per-number senders, singleton workers) and their progress.
    case leases = "cloudchat_leases"
}
