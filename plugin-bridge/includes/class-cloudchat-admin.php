<?php
/**
 * The wp-admin screens: menu, page shells and their scripts.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Each screen is a root element that its script fills from the REST routes;
 * there is no build step, only WordPress's bundled `wp-api-fetch` and `wp-i18n`.
 */
final class CloudChat_Admin {

	/**
	 * The screens: page slug => screen name, capability and title.
	 *
	 * @return array[]
	 */
	public static function screens() {
		return array(
			'cloudchat'           => array( 'inbox', CloudChat_Roles::AGENT, __( 'Inbox', 'cloudchat' ) ),
			'cloudchat-contacts'  => array( 'contacts', CloudChat_Roles::AGENT, __( 'Contacts', 'cloudchat' ) ),
			'cloudchat-templates' => array( 'templates', CloudChat_Roles::MANAGE, __( 'Templates', 'cloudchat' ) ),
			'cloudchat-campaigns' => array( 'campaigns', CloudChat_Roles::MANAGE, __( 'Campaigns', 'cloudchat' ) ),
			'cloudchat-settings'  => array( 'settings', CloudChat_Roles::MANAGE, __( 'Settings', 'cloudchat' ) ),
		);
	}

	/**
	 * Adds the CloudChat menu; WordPress refuses each page to users without its capability.
	 */
	public static function register_menu() {
		add_menu_page( __( 'CloudChat', 'cloudchat' ), __( 'CloudChat', 'cloudchat' ), CloudChat_Roles::AGENT, 'cloudchat', array( __CLASS__, 'render' ), 'dashicons-format-chat', 26 );
		foreach ( self::screens() as $slug => $screen ) {
			add_submenu_page( 'cloudchat', $screen[2] . ' ‹ ' . __( 'CloudChat', 'cloudchat' ), $screen[2], $screen[1], $slug, array( __CLASS__, 'render' ) );
		}
	}

	/**
	 * The current CloudChat page slug, or null on other pages.
	 *
	 * @return string|null
	 */
	private static function current_slug() {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- reading which page is shown.
		$page = isset( $_GET['page'] ) ? sanitize_key( wp_unslash( $_GET['page'] ) ) : '';
		return isset( self::screens()[ $page ] ) ? $page : null;
	}

	/**
	 * Prints a screen's shell.
	 */
	public static function render() {
		$slug = self::current_slug();
		if ( null === $slug ) {
			return;
		}
		$screen = self::screens()[ $slug ];
		if ( ! current_user_can( $screen[1] ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to access this page.', 'cloudchat' ), 403 );
		}
		printf(
			'<div class="wrap cloudchat-admin"><h1>%s</h1><div id="cloudchat-app" data-screen="%s"><noscript>%s</noscript></div></div>',
			esc_html( $screen[2] ),
			esc_attr( $screen[0] ),
			esc_html__( 'CloudChat\'s screens need JavaScript.', 'cloudchat' )
		);
	}

	/**
	 * Loads the screen's script and what it needs to know.
	 */
	public static function enqueue() {
		$slug = self::current_slug();
		if ( null === $slug || ! current_user_can( self::screens()[ $slug ][1] ) ) {
			return;
		}
		$screen = self::screens()[ $slug ][0];
		$base   = plugins_url( 'assets/', CLOUDCHAT_PLUGIN_FILE );
		wp_enqueue_style( 'cloudchat-admin', $base . 'css/admin.css', array(), CLOUDCHAT_VERSION );
		wp_register_script( 'cloudchat-admin', $base . 'js/admin.js', array( 'wp-api-fetch', 'wp-i18n' ), CLOUDCHAT_VERSION, true );
		wp_enqueue_script( 'cloudchat-' . $screen, $base . 'js/' . $screen . '.js', array( 'cloudchat-admin' ), CLOUDCHAT_VERSION, true );
		wp_set_script_translations( 'cloudchat-admin', 'cloudchat', CLOUDCHAT_PLUGIN_DIR . 'languages' );
		wp_set_script_translations( 'cloudchat-' . $screen, 'cloudchat', CLOUDCHAT_PLUGIN_DIR . 'languages' );
		$ready = CloudChat_Schema::is_ready();
		// JSON rather than wp_localize_script(), which turns top-level booleans and numbers into strings.
		$config = array(
			'screen'          => $screen,
			'timezone'        => wp_timezone_string(),
			'gmtOffset'       => (float) get_option( 'gmt_offset', 0 ),
			'userId'          => get_current_user_id(),
			'canManage'       => current_user_can( CloudChat_Roles::MANAGE ),
			'daemonReachable' => ( new CloudChat_Daemon_Client() )->is_reachable(),
			'schema'          => array(
				'installed' => CloudChat_Schema::installed_version(),
				'required'  => CLOUDCHAT_REQUIRED_DB_VERSION,
			),
			'accounts'        => $ready ? self::account_choices() : array(),
			'pollSeconds'     => 3,
			'adminUrl'        => admin_url(),
		);
		wp_add_inline_script( 'cloudchat-admin', 'window.cloudchatAdmin = ' . wp_json_encode( $config ) . ';', 'before' );
	}

	/**
	 * The numbers a person may pick for imports and campaigns: id, WABA, label and number only.
	 *
	 * @return array[]
	 */
	private static function account_choices() {
		$choices = array();
		foreach ( CloudChat_REST_Settings::accounts() as $account ) {
			$choices[] = array(
				'id'                   => $account['id'],
				'waba_id'              => $account['waba_id'],
				'label'                => $account['label'],
				'display_phone_number' => $account['display_phone_number'],
				'state'                => $account['state'],
			);
		}
		return $choices;
	}
}
