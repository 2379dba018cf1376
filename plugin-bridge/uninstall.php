<?php
/**
 * Removes what the plugin created: its options and capabilities, and CloudChat's
 * tables only when the site owner chose "delete data on uninstall".
 *
 * @package CloudChat
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/class-cloudchat-roles.php';

/**
 * Cleans one site (a blog of a network, or the single site).
 */
function cloudchat_uninstall_site() {
	global $wpdb;
	$delete_data = (bool) get_option( 'cloudchat_delete_data_on_uninstall', false );
	foreach ( array( 'cloudchat_daemon_url', 'cloudchat_control_secret', 'cloudchat_webhook_url', 'cloudchat_delete_data_on_uninstall' ) as $option ) {
		delete_option( $option );
	}
	delete_transient( 'cloudchat_daemon_reachable' );
	CloudChat_Roles::remove();
	if ( ! $delete_data ) {
		return; // The tables and their data stay, with cloudchat_db_version, for cloudchatd and a later reinstall.
	}
	$tables = array( 'webhook_events', 'contacts', 'contact_tags', 'consent_events', 'conversations', 'messages', 'status_events', 'media', 'templates', 'outbox', 'campaigns', 'campaign_recipients', 'automations', 'audit_log', 'leases', 'accounts' );
	foreach ( $tables as $table ) {
		$wpdb->query( 'DROP TABLE IF EXISTS `' . esc_sql( $wpdb->prefix . 'cloudchat_' . $table ) . '`' ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery.SchemaChange -- the owner asked for the data to go.
	}
	delete_option( 'cloudchat_db_version' );
	// The retention goes with the data it governs: while the data stays, cloudchatd keeps applying the owner's choice.
	delete_option( 'cloudchat_retention' );
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $cloudchat_blog_id ) {
		switch_to_blog( $cloudchat_blog_id );
		cloudchat_uninstall_site();
		restore_current_blog();
	}
} else {
	cloudchat_uninstall_site();
}
