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

	/** Days kept per class of data, a JSON object the daemon reads (docs/schema.md §8). */
	const RETENTION = 'cloudchat_retention';

	/** The longest retention short of forever (0): ten years. */
	const RETENTION_MAX_DAYS = 3650;

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
	 * The classes of data retention applies to, with the daemon's built-in defaults in days.
	 *
	 * @return array<string,int> Option key => default days.
	 */
	public static function retention_defaults() {
		return array(
			'webhook_events_days'      => 30,
			'messages_days'            => 365,
			'status_events_days'       => 365,
			'outbox_days'              => 30,
			'campaign_recipients_days' => 730,
			'audit_log_days'           => 90,
		);
	}

	/**
	 * What each retention class holds, for the screen and error messages.
	 *
	 * @return array<string,string> Option key => label.
	 */
	public static function retention_labels() {
		return array(
			'webhook_events_days'      => __( 'Raw webhooks from Meta, after processing', 'cloudchat' ),
			'messages_days'            => __( 'Messages, with their media files', 'cloudchat' ),
			'status_events_days'       => __( 'Message status events (sent, delivered, read)', 'cloudchat' ),
			'outbox_days'              => __( 'Finished items of the send queue', 'cloudchat' ),
			'campaign_recipients_days' => __( 'Campaign recipients, after the campaign ended (the final counts stay)', 'cloudchat' ),
			'audit_log_days'           => __( 'Audit log', 'cloudchat' ),
		);
	}

	/**
	 * The retention the site owner set: only valid values of known classes; the rest are the defaults.
	 *
	 * @return array<string,int> Option key => days (0 keeps forever).
	 */
	public static function retention() {
		$stored = json_decode( (string) get_option( self::RETENTION, '' ), true );
		$values = array();
		if ( ! is_array( $stored ) ) {
			return $values;
		}
		foreach ( array_keys( self::retention_defaults() ) as $key ) {
			if ( isset( $stored[ $key ] ) && is_int( $stored[ $key ] ) && $stored[ $key ] >= 0 && $stored[ $key ] <= self::RETENTION_MAX_DAYS ) {
				$values[ $key ] = $stored[ $key ];
			}
		}
		return $values;
	}

	/**
	 * Stores the retention: the classes given, the others back to their defaults.
	 *
	 * @param array<string,int> $values Option key => days, already validated.
	 */
	public static function set_retention( $values ) {
		$known = array_intersect_key( $values, self::retention_defaults() );
		if ( empty( $known ) ) {
			delete_option( self::RETENTION );
			return;
		}
		$clean = array();
		foreach ( $known as $key => $days ) {
			$clean[ $key ] = (int) $days;
		}
		// JSON text, never a PHP-serialised array: cloudchatd reads it from the options table.
		update_option( self::RETENTION, wp_json_encode( $clean ), false );
	}

	/**
	 * REST check of one retention value, with a message that says what is allowed.
	 *
	 * @param mixed           $value   The value sent.
	 * @param WP_REST_Request $request The request.
	 * @param string          $param   The argument's name.
	 * @return true|WP_Error
	 */
	public static function validate_retention_arg( $value, $request, $param ) {
		if ( true === rest_validate_request_arg( $value, $request, $param ) ) {
			return true;
		}
		$labels = self::retention_labels();
		return new WP_Error(
			'cloudchat_invalid_retention',
			sprintf(
				/* translators: 1: what the setting keeps, 2: the largest number of days. */
				__( '%1$s: enter 0 to keep forever, or a whole number of days from 1 to %2$d.', 'cloudchat' ),
				isset( $labels[ $param ] ) ? $labels[ $param ] : $param,
				self::RETENTION_MAX_DAYS
			),
			array( 'status' => 400 )
		);
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
