<?php
/**
 * CloudChat's table names for the current site.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Table names always come from `$wpdb->prefix`, so a multisite blog only ever
 * reaches its own rows.
 */
final class CloudChat_Tables {

	/**
	 * The full name of a CloudChat table, e.g. `wp_cloudchat_contacts`.
	 *
	 * @param string $table The name after `cloudchat_`: contacts, messages, outbox…
	 * @return string
	 */
	public static function name( $table ) {
		global $wpdb;
		return $wpdb->prefix . 'cloudchat_' . preg_replace( '/[^a-z_]/', '', $table );
	}

	/**
	 * The current time in UTC as the schema stores it (no column has a time default).
	 *
	 * @return string
	 */
	public static function now() {
		return gmdate( 'Y-m-d H:i:s' );
	}

	/**
	 * A DATETIME from the tables (UTC) as ISO 8601, or null.
	 *
	 * @param string|null $value The column's value.
	 * @return string|null
	 */
	public static function iso( $value ) {
		if ( null === $value || '' === $value || 0 === strpos( $value, '0000-00-00' ) ) {
			return null;
		}
		$time = strtotime( $value . ' UTC' );
		return false === $time ? null : gmdate( 'Y-m-d\TH:i:s\Z', $time );
	}
}
