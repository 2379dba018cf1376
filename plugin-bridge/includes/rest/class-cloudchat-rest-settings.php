<?php
/**
 * Settings and status routes.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * The connection to the daemon, Meta credentials (passed through, never kept),
 * and the live health the settings screen shows.
 */
class CloudChat_REST_Settings extends CloudChat_REST_Controller {

	/**
	 * Registers the routes.
	 */
	public function register_routes() {
		$manage = CloudChat_Roles::MANAGE;
		$this->route( '/settings', 'GET', array( $this, 'get_settings' ), $manage );
		$this->route(
			'/settings',
			'POST',
			array( $this, 'update_settings' ),
			$manage,
			array(
				'daemon_url'               => array(
					'type'      => 'string',
					'maxLength' => 255,
				),
				'control_secret'           => array(
					'type'      => 'string',
					'maxLength' => 255,
				),
				'webhook_url'              => array(
					'type'      => 'string',
					'format'    => 'uri',
					'maxLength' => 255,
				),
				'delete_data_on_uninstall' => array( 'type' => 'boolean' ),
			)
		);
		$text = function ( $required, $pattern = null ) {
			$arg = array(
				'type'      => 'string',
				'required'  => $required,
				'maxLength' => 4096,
			);
			if ( null !== $pattern ) {
				$arg['pattern'] = $pattern;
			}
			return $arg;
		};
		$this->route(
			'/settings/credentials',
			'POST',
			array( $this, 'store_credentials' ),
			$manage,
			array(
				'waba_id'         => $text( true, '^[0-9]{1,32}$' ),
				'phone_number_id' => $text( true, '^[0-9]{1,32}$' ),
				'access_token'    => array_merge( $text( true ), array( 'minLength' => 1 ) ),
				'app_secret'      => $text( false ),
				'label'           => array_merge( $text( false ), array( 'maxLength' => 255 ) ),
				'send_rate_mps'   => array(
					'type'    => 'integer',
					'minimum' => 1,
					'maximum' => 1000,
				),
			)
		);
		$retention_args = array();
		foreach ( array_keys( CloudChat_Settings::retention_defaults() ) as $key ) {
			$retention_args[ $key ] = array(
				'type'              => 'integer',
				'minimum'           => 0,
				'maximum'           => CloudChat_Settings::RETENTION_MAX_DAYS,
				'validate_callback' => array( 'CloudChat_Settings', 'validate_retention_arg' ),
			);
		}
		$this->route( '/settings/retention', 'GET', array( $this, 'get_retention' ), $manage );
		$this->route( '/settings/retention', 'POST', array( $this, 'update_retention' ), $manage, $retention_args );
		$this->route( '/settings/test', 'POST', array( $this, 'test_connection' ), $manage );
		$this->route( '/health', 'GET', array( $this, 'health' ), $manage );
		$this->route( '/daemon', 'GET', array( $this, 'daemon_reachable' ), array( $manage, CloudChat_Roles::AGENT ) );
	}

	/**
	 * GET daemon: whether the daemon answers now, for the screens' banner.
	 *
	 * @return WP_REST_Response
	 */
	public function daemon_reachable() {
		return new WP_REST_Response( array( 'reachable' => ( new CloudChat_Daemon_Client() )->is_reachable( true ) ) );
	}

	/**
	 * GET settings.
	 *
	 * @return WP_REST_Response
	 */
	public function get_settings() {
		return new WP_REST_Response( self::settings_json() );
	}

	/**
	 * POST settings: saves what was given.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function update_settings( WP_REST_Request $request ) {
		$changed = array();
		if ( isset( $request['daemon_url'] ) ) {
			$url = CloudChat_Settings::validate_daemon_url( $request['daemon_url'] );
			if ( is_wp_error( $url ) ) {
				return $url;
			}
			update_option( CloudChat_Settings::DAEMON_URL, $url, false );
			$changed[] = 'daemon_url';
		}
		if ( isset( $request['control_secret'] ) && '' !== $request['control_secret'] ) {
			if ( CloudChat_Settings::control_secret_is_constant() ) {
				return self::bad_request( 'secret_in_config', __( 'The control secret is set by CLOUDCHAT_CONTROL_SECRET in wp-config.php; change it there.', 'cloudchat' ) );
			}
			$secret = trim( (string) $request['control_secret'] );
			if ( strlen( $secret ) < 16 ) {
				return self::bad_request( 'weak_secret', __( 'The control secret must be at least 16 characters; copy it from the server\'s cloudchatd configuration.', 'cloudchat' ) );
			}
			update_option( CloudChat_Settings::CONTROL_SECRET, $secret, false );
			$changed[] = 'control_secret';
		}
		if ( isset( $request['webhook_url'] ) ) {
			update_option( CloudChat_Settings::WEBHOOK_URL, esc_url_raw( $request['webhook_url'] ), false );
			$changed[] = 'webhook_url';
		}
		if ( isset( $request['delete_data_on_uninstall'] ) ) {
			update_option( CloudChat_Settings::DELETE_ON_UNINSTALL, (bool) $request['delete_data_on_uninstall'], false );
			$changed[] = 'delete_data_on_uninstall';
		}
		delete_transient( 'cloudchat_daemon_reachable' );
		if ( ! empty( $changed ) ) {
			self::audit( 'settings.updated', 'settings', null, array( 'changed' => $changed ) );
		}
		return new WP_REST_Response( self::settings_json() );
	}

	/**
	 * GET settings/retention: the days per class the site owner set, and the defaults.
	 *
	 * @return WP_REST_Response
	 */
	public function get_retention() {
		return new WP_REST_Response( self::retention_json() );
	}

	/**
	 * POST settings/retention: replaces the retention; classes left out go back to their defaults.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function update_retention( WP_REST_Request $request ) {
		$values = array();
		foreach ( array_keys( CloudChat_Settings::retention_defaults() ) as $key ) {
			if ( null !== $request->get_param( $key ) ) {
				$values[ $key ] = (int) $request->get_param( $key );
			}
		}
		$before = CloudChat_Settings::retention();
		CloudChat_Settings::set_retention( $values );
		$changed = array();
		foreach ( array_keys( CloudChat_Settings::retention_defaults() ) as $key ) {
			if ( ( $before[ $key ] ?? null ) !== ( $values[ $key ] ?? null ) ) {
				$changed[] = 'retention.' . $key;
			}
		}
		if ( ! empty( $changed ) ) {
			self::audit( 'settings.updated', 'settings', null, array( 'changed' => $changed ) );
		}
		return new WP_REST_Response( self::retention_json() );
	}

	/**
	 * The retention as the screen reads it.
	 *
	 * @return array
	 */
	private static function retention_json() {
		$values = CloudChat_Settings::retention();
		$labels = CloudChat_Settings::retention_labels();
		$list   = array();
		foreach ( CloudChat_Settings::retention_defaults() as $key => $default ) {
			$list[] = array(
				'key'     => $key,
				'label'   => $labels[ $key ],
				'days'    => isset( $values[ $key ] ) ? $values[ $key ] : null,
				'default' => $default,
			);
		}
		return array(
			'retention'    => $list,
			'maximum_days' => CloudChat_Settings::RETENTION_MAX_DAYS,
		);
	}

	/**
	 * POST settings/credentials: hands a number's credentials to the daemon.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function store_credentials( WP_REST_Request $request ) {
		$body = array(
			'waba_id'         => (string) $request['waba_id'],
			'phone_number_id' => (string) $request['phone_number_id'],
			'access_token'    => trim( (string) $request['access_token'] ),
		);
		if ( isset( $request['app_secret'] ) && '' !== trim( (string) $request['app_secret'] ) ) {
			$body['app_secret'] = trim( (string) $request['app_secret'] );
		}
		if ( isset( $request['label'] ) && '' !== trim( (string) $request['label'] ) ) {
			$body['label'] = sanitize_text_field( (string) $request['label'] );
		}
		if ( isset( $request['send_rate_mps'] ) ) {
			$body['send_rate_mps'] = (int) $request['send_rate_mps'];
		}
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/credentials', $body, 30 );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$account_id = isset( $answer['account_id'] ) ? (int) $answer['account_id'] : null;
		self::audit( 'account.credentials_updated', 'account', $account_id );
		return new WP_REST_Response(
			array(
				'account_id'    => $account_id,
				'verified_name' => isset( $answer['verified_name'] ) ? $answer['verified_name'] : null,
			)
		);
	}

	/**
	 * POST settings/test: a signed round trip to the daemon.
	 *
	 * @return WP_REST_Response|WP_Error
	 */
	public function test_connection() {
		delete_transient( 'cloudchat_daemon_reachable' );
		$started = microtime( true );
		$answer  = ( new CloudChat_Daemon_Client() )->request( 'GET', '/v1/status', null, 5 );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		set_transient( 'cloudchat_daemon_reachable', 'yes', 15 );
		return new WP_REST_Response(
			array(
				'ok'            => true,
				'version'       => isset( $answer['version'] ) ? $answer['version'] : null,
				'round_trip_ms' => (int) round( ( microtime( true ) - $started ) * 1000 ),
			)
		);
	}

	/**
	 * GET health: the daemon's counters and the queues in the tables.
	 *
	 * @return WP_REST_Response
	 */
	public function health() {
		global $wpdb;
		$status = ( new CloudChat_Daemon_Client() )->request( 'GET', '/v1/status', null, 3 );
		$daemon = array( 'reachable' => ! is_wp_error( $status ) );
		if ( is_wp_error( $status ) ) {
			$daemon['error'] = $status->get_error_message();
		} else {
			$daemon['version']              = $status['version'] ?? null;
			$daemon['webhooks_accepted']    = $status['webhooks']['accepted'] ?? null;
			$daemon['sending']              = $status['sending'] ?? null;
			$daemon['webhook_verify_token'] = $status['webhook_verify_token'] ?? null;
		}
		$outbox    = CloudChat_Tables::name( 'outbox' );
		$media     = CloudChat_Tables::name( 'media' );
		$campaigns = CloudChat_Tables::name( 'campaigns' );
		$accounts  = CloudChat_Tables::name( 'accounts' );
		$since     = gmdate( 'Y-m-d H:i:s', time() - DAY_IN_SECONDS );
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		$queues     = array(
			'outbox_queued'     => (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$outbox} WHERE state IN ('queued', 'sending')" ),
			'outbox_failed_24h' => (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$outbox} WHERE state = 'failed' AND updated_at > %s", $since ) ),
			'media_pending'     => (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$media} WHERE state IN ('pending', 'downloading')" ),
			'campaigns_running' => (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$campaigns} WHERE state = 'running'" ),
		);
		$account_error = $wpdb->get_row( "SELECT last_error_code AS code, last_error_details AS details, last_error_at AS at FROM {$accounts} WHERE last_error_at IS NOT NULL ORDER BY last_error_at DESC LIMIT 1", ARRAY_A );
		$send_error    = $wpdb->get_row( "SELECT error_code AS code, error_details AS details, updated_at AS at FROM {$outbox} WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 1", ARRAY_A );
		// phpcs:enable
		$last_error = null;
		foreach ( array( $account_error, $send_error ) as $candidate ) {
			if ( null !== $candidate && ( null === $last_error || $candidate['at'] > $last_error['at'] ) ) {
				$last_error = $candidate;
			}
		}
		if ( null !== $last_error ) {
			$last_error = array(
				'code'    => null === $last_error['code'] ? null : (int) $last_error['code'],
				'details' => $last_error['details'],
				'at'      => CloudChat_Tables::iso( $last_error['at'] ),
			);
		}
		return new WP_REST_Response(
			array(
				'daemon'     => $daemon,
				'queues'     => $queues,
				'last_error' => $last_error,
			)
		);
	}

	/**
	 * The business numbers, without their secrets.
	 *
	 * @return array[]
	 */
	public static function accounts() {
		global $wpdb;
		$table = CloudChat_Tables::name( 'accounts' );
		// Never select the ciphertext columns.
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$rows = $wpdb->get_results( "SELECT id, waba_id, phone_number_id, display_phone_number, verified_name, label, state, state_reason, send_rate_mps, messaging_limit_tier, quality_rating, last_error_code, last_error_details, last_error_at FROM {$table} ORDER BY id", ARRAY_A );
		$list = array();
		foreach ( (array) $rows as $row ) {
			$list[] = array(
				'id'                   => (int) $row['id'],
				'waba_id'              => $row['waba_id'],
				'phone_number_id'      => $row['phone_number_id'],
				'display_phone_number' => $row['display_phone_number'],
				'verified_name'        => $row['verified_name'],
				'label'                => $row['label'],
				'state'                => $row['state'],
				'state_reason'         => $row['state_reason'],
				'send_rate_mps'        => (int) $row['send_rate_mps'],
				'messaging_limit_tier' => $row['messaging_limit_tier'],
				'quality_rating'       => $row['quality_rating'],
				'last_error'           => null === $row['last_error_at'] ? null : array(
					'code'    => null === $row['last_error_code'] ? null : (int) $row['last_error_code'],
					'details' => $row['last_error_details'],
					'at'      => CloudChat_Tables::iso( $row['last_error_at'] ),
				),
			);
		}
		return $list;
	}

	/**
	 * The settings as the screen reads them; the secret itself is never sent back.
	 *
	 * @return array
	 */
	private static function settings_json() {
		return array(
			'daemon_url'                  => CloudChat_Settings::daemon_url(),
			'control_secret_set'          => '' !== CloudChat_Settings::control_secret(),
			'control_secret_in_config'    => CloudChat_Settings::control_secret_is_constant(),
			'webhook_url'                 => CloudChat_Settings::webhook_url(),
			'delete_data_on_uninstall'    => CloudChat_Settings::delete_data_on_uninstall(),
			'accounts'                    => self::accounts(),
			'schema'                      => array(
				'installed' => CloudChat_Schema::installed_version(),
				'required'  => CLOUDCHAT_REQUIRED_DB_VERSION,
			),
		);
	}
}
