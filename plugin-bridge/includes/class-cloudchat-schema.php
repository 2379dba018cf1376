<?php
/**
 * The schema check: the daemon owns the tables, the plugin only reads their version.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Compares `cloudchat_db_version` with the version this plugin was written for.
 */
final class CloudChat_Schema {

	/**
	 * The installed schema version; 0 when cloudchatd has not created the tables.
	 *
	 * @return int
	 */
	public static function installed_version() {
		return (int) get_option( 'cloudchat_db_version', 0 );
	}

	/**
	 * Whether the tables are there and new enough for this plugin.
	 *
	 * @return bool
	 */
	public static function is_ready() {
		return self::installed_version() >= CLOUDCHAT_REQUIRED_DB_VERSION;
	}

	/**
	 * The problem in words, or null when the schema is ready.
	 *
	 * @return string|null
	 */
	public static function problem() {
		$installed = self::installed_version();
		if ( 0 === $installed ) {
			return __( 'CloudChat\'s database tables are missing. On the server, run: sudo cloudchatd migrate', 'cloudchat' );
		}
		if ( $installed < CLOUDCHAT_REQUIRED_DB_VERSION ) {
			return sprintf(
				/* translators: 1: installed schema version, 2: version the plugin needs. */
				__( 'CloudChat\'s database tables are at version %1$d; this plugin needs version %2$d. On the server, update cloudchatd and run: sudo cloudchatd migrate', 'cloudchat' ),
				$installed,
				CLOUDCHAT_REQUIRED_DB_VERSION
			);
		}
		return null;
	}

	/**
	 * Shows the exact fix to people who can act on it.
	 */
	public static function admin_notice() {
		if ( ! current_user_can( CloudChat_Roles::MANAGE ) && ! current_user_can( CloudChat_Roles::AGENT ) ) {
			return;
		}
		$problem = self::problem();
		if ( null === $problem ) {
			return;
		}
		printf( '<div class="notice notice-error cloudchat-schema-notice"><p><strong>%s</strong> %s</p></div>', esc_html__( 'CloudChat:', 'cloudchat' ), esc_html( $problem ) );
	}
}
