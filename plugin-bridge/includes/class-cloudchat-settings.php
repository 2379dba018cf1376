<?php
/**
 * The plugin's own settings (WordPress options).
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Where the daemon listens and the secret shared with it. Meta's credentials are
 * never among them: they go to the daemon, which keeps them encrypted.
 */
final class CloudChat_Settings {

	const DAEMON_URL      = 'cloudchat_daemon_url';
	const CONTROL_SECRET  = 'cloudchat_control_secret';
	const WEBHOOK_URL     = 'cloudchat_webhook_url';
	const DELETE_ON_UNINSTALL = 'cloudchat_delete_data_on_uninstall';

	/** The daemon's control API as the installer sets it up. */
	const DEFAULT_DAEMON_URL = 'http://127.0.0.1:8789';

	/**
	 * The daemon's control API base URL. `CLOUDCHAT_DAEMON_URL` in wp-config.php wins.
	 *
	 * @return string
	 */
	public static function daemon_url() {
		if ( defined( 'CLOUDCHAT_DAEMON_URL' ) ) {
			return untrailingslashit( (string) CLOUDCHAT_DAEMON_URL );
		}
		return untrailingslashit( (string) get_option( self::DAEMON_URL, self::DEFAULT_DAEMON_URL ) );
	}

	/**
	 * The control secret shared with the daemon. `CLOUDCHAT_CONTROL_SECRET` in wp-config.php wins.
	 *
	 * @return string Empty when none is set.
	 */
	public static function control_secret() {
		if ( defined( 'CLOUDCHAT_CONTROL_SECRET' ) ) {
			return (string) CLOUDCHAT_CONTROL_SECRET;
		}
		return (string) get_option( self::CONTROL_SECRET, '' );
	}

	/**
	 * Whether the secret comes from wp-config.php, so the screen cannot change it.
	 *
	 * @return bool
	 */
	public static function control_secret_is_constant() {
		return defined( 'CLOUDCHAT_CONTROL_SECRET' );
	}

	/**
	 * The public URL Meta posts webhooks to; the site's proxy passes it to the daemon's `/webhook`.
	 *
	 * @return string
	 */
	public static function webhook_url() {
		$url = (string) get_option( self::WEBHOOK_URL, '' );
		return '' !== $url ? $url : home_url( '/cloudchat/webhook' );
	}

	/**
	 * Whether uninstalling removes CloudChat's tables and their data.
	 *
	 * @return bool
	 */
	public static function delete_data_on_uninstall() {
		return (bool) get_option( self::DELETE_ON_UNINSTALL, false );
	}

	/**
	 * Checks a daemon URL: http(s), a host, no credentials, query or fragment.
	 *
	 * @param string $url The URL as typed.
	 * @return string|WP_Error The URL without a trailing slash.
	 */
	public static function validate_daemon_url( $url ) {
		$url   = trim( (string) $url );
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! in_array( $parts['scheme'] ?? '', array( 'http', 'https' ), true )
			|| isset( $parts['user'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
			return new WP_Error(
				'cloudchat_invalid_daemon_url',
				__( 'The service address must be an http:// or https:// URL such as http://127.0.0.1:8789, without a path query or password.', 'cloudchat' ),
				array( 'status' => 400 )
			);
		}
		return untrailingslashit( $url );
	}
}
