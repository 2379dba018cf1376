<?php
/**
 * Wires the plugin's parts into WordPress.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Registers hooks once; every part keeps its own logic.
 */
final class CloudChat_Plugin {

	/**
	 * Hooks the plugin into WordPress.
	 */
	public static function boot() {
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
		add_action( 'admin_menu', array( 'CloudChat_Admin', 'register_menu' ) );
		add_action( 'admin_enqueue_scripts', array( 'CloudChat_Admin', 'enqueue' ) );
		add_action( 'admin_notices', array( 'CloudChat_Schema', 'admin_notice' ) );
		add_filter( 'wp_privacy_personal_data_exporters', array( 'CloudChat_Personal_Data', 'register_exporter' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( 'CloudChat_Personal_Data', 'register_eraser' ) );
	}

	/**
	 * Loads translations from the plugin's languages folder.
	 */
	public static function load_textdomain() {
		load_plugin_textdomain( 'cloudchat', false, dirname( plugin_basename( CLOUDCHAT_PLUGIN_FILE ) ) . '/languages' );
	}

	/**
	 * Registers every REST route under cloudchat/v1.
	 */
	public static function register_routes() {
		$controllers = array(
			new CloudChat_REST_Inbox(),
			new CloudChat_REST_Contacts(),
			new CloudChat_REST_Templates(),
			new CloudChat_REST_Campaigns(),
			new CloudChat_REST_Settings(),
		);
		foreach ( $controllers as $controller ) {
			$controller->register_routes();
		}
	}
}
