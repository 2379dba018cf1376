<?php
/**
 * Campaign routes: list, create, transitions and progress.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * The daemon creates campaigns (it checks the variables against the template)
 * and makes every transition; progress is read from the tables, so it shows
 * while the daemon is down.
 */
class CloudChat_REST_Campaigns extends CloudChat_REST_Controller {

	const ACTIONS = array( 'start', 'pause', 'resume', 'cancel' );

	/**
	 * Registers the routes.
	 */
	public function register_routes() {
		$manage = CloudChat_Roles::MANAGE;
		$this->route( '/campaigns', 'GET', array( $this, 'list_campaigns' ), $manage );
		$this->route(
			'/campaigns',
			'POST',
			array( $this, 'create' ),
			$manage,
			array(
				'name'           => array(
					'type'      => 'string',
					'required'  => true,
					'minLength' => 1,
					'maxLength' => 255,
				),
				'account_id'     => self::id_arg(),
				'template_id'    => self::id_arg(),
				'variables'      => array(
					'type'    => 'object',
					'default' => array(),
				),
				'audience'       => array(
					'type'     => 'object',
					'required' => true,
				),
				'csv'            => array(
					'type'      => 'string',
					'maxLength' => 8000000,
					'default'   => '',
				),
				'phone_column'   => array(
					'type'      => 'string',
					'maxLength' => 100,
					'default'   => '',
				),
				'rate_limit_mps' => array(
					'type'    => 'number',
					'minimum' => 0.1,
					'maximum' => 1000,
				),
			)
		);
		$this->route( '/campaigns/(?P<id>\d+)', 'GET', array( $this, 'get_campaign' ), $manage, array( 'id' => self::id_arg() ) );
		$this->route(
			'/campaigns/(?P<id>\d+)/(?P<action>start|pause|resume|cancel)',
			'POST',
			array( $this, 'transition' ),
			$manage,
			array(
				'id'     => self::id_arg(),
				'action' => array(
					'type' => 'string',
					'enum' => self::ACTIONS,
				),
			)
		);
		$this->route(
			'/campaigns/(?P<id>\d+)/schedule',
			'POST',
			array( $this, 'schedule' ),
			$manage,
			array(
				'id' => self::id_arg(),
				'at' => array(
					'type'     => 'string',
					'required' => true,
					'pattern'  => '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$',
				),
			)
		);
	}

	/**
	 * GET campaigns.
	 *
	 * @return WP_REST_Response
	 */
	public function list_campaigns() {
		global $wpdb;
		$table = CloudChat_Tables::name( 'campaigns' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$rows = $wpdb->get_results( "SELECT * FROM {$table} ORDER BY id DESC LIMIT 100", ARRAY_A );
		return new WP_REST_Response( array( 'campaigns' => array_map( array( __CLASS__, 'campaign_json' ), $rows ) ) );
	}

	/**
	 * GET campaigns/{id}.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function get_campaign( WP_REST_Request $request ) {
		$row = self::find( (int) $request['id'] );
		return null === $row ? self::not_found( __( 'campaign', 'cloudchat' ) ) : new WP_REST_Response( array( 'campaign' => self::campaign_json( $row ) ) );
	}

	/**
	 * POST campaigns: the daemon creates the draft and imports a CSV audience.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function create( WP_REST_Request $request ) {
		global $wpdb;
		$audience = (array) $request['audience'];
		$type     = isset( $audience['type'] ) ? (string) $audience['type'] : '';
		if ( ! in_array( $type, array( 'all_opted_in', 'tags', 'csv' ), true ) ) {
			return self::bad_request( 'invalid_audience', __( 'The audience type must be all_opted_in, tags or csv.', 'cloudchat' ) );
		}
		if ( 'tags' === $type ) {
			$tags = isset( $audience['tags'] ) && is_array( $audience['tags'] ) ? array_values( array_filter( array_map( 'sanitize_text_field', $audience['tags'] ), 'strlen' ) ) : array();
			if ( empty( $tags ) ) {
				return self::bad_request( 'invalid_audience', __( 'Name at least one tag for a tags audience.', 'cloudchat' ) );
			}
			$audience = array(
				'type'  => 'tags',
				'tags'  => $tags,
				'match' => isset( $audience['match'] ) && 'all' === $audience['match'] ? 'all' : 'any',
			);
		} else {
			$audience = array( 'type' => $type );
		}
		if ( 'csv' === $type && '' === trim( (string) $request['csv'] ) ) {
			return self::bad_request( 'invalid_audience', __( 'Choose the CSV file of recipients.', 'cloudchat' ) );
		}
		$accounts = CloudChat_Tables::name( 'accounts' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$account = $wpdb->get_row( $wpdb->prepare( "SELECT id, phone_number_id FROM {$accounts} WHERE id = %d", (int) $request['account_id'] ), ARRAY_A );
		if ( null === $account ) {
			return self::not_found( __( 'business number', 'cloudchat' ) );
		}
		$template = CloudChat_REST_Templates::find_sendable( (int) $request['template_id'], (int) $account['id'] );
		if ( is_wp_error( $template ) ) {
			return $template;
		}
		$body = array(
			'name'               => sanitize_text_field( (string) $request['name'] ),
			'phone_number_id'    => $account['phone_number_id'],
			'template_name'      => $template['name'],
			'template_language'  => $template['language'],
			'variables'          => empty( $request['variables'] ) ? null : $request['variables'],
			'audience'           => $audience,
			'created_by_user_id' => get_current_user_id(),
		);
		if ( isset( $request['rate_limit_mps'] ) ) {
			$body['rate_limit_mps'] = (float) $request['rate_limit_mps'];
		}
		if ( 'csv' === $type ) {
			$body['csv']          = (string) $request['csv'];
			$body['phone_column'] = (string) $request['phone_column'];
		}
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/campaigns', $body, 120 );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$id = isset( $answer['campaign']['id'] ) ? (int) $answer['campaign']['id'] : 0;
		$row = self::find( $id );
		if ( null === $row ) {
			return new WP_Error( 'cloudchat_daemon_error', __( 'The CloudChat service did not say which campaign it created.', 'cloudchat' ), array( 'status' => 502 ) );
		}
		self::audit( 'campaign.created', 'campaign', $id, array( 'audience' => $type ) );
		return new WP_REST_Response(
			array(
				'campaign' => self::campaign_json( $row ),
				'import'   => isset( $answer['import'] ) ? $answer['import'] : null,
			),
			201
		);
	}

	/**
	 * POST campaigns/{id}/start|pause|resume|cancel, made by the daemon.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function transition( WP_REST_Request $request ) {
		$action = (string) $request['action'];
		return $this->ask_daemon( (int) $request['id'], $action, array() );
	}

	/**
	 * POST campaigns/{id}/schedule: `at` is in the site's time zone.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function schedule( WP_REST_Request $request ) {
		$local = date_create_immutable( (string) $request['at'], wp_timezone() );
		if ( false === $local ) {
			return self::bad_request( 'invalid_time', __( 'Give the start time as YYYY-MM-DDTHH:MM in the site\'s time zone.', 'cloudchat' ) );
		}
		$utc = $local->setTimezone( new DateTimeZone( 'UTC' ) );
		if ( $utc->getTimestamp() <= time() ) {
			return self::bad_request( 'invalid_time', __( 'The start time is in the past; choose a later time or start the campaign now.', 'cloudchat' ) );
		}
		return $this->ask_daemon( (int) $request['id'], 'schedule', array( 'at' => $utc->format( 'Y-m-d\TH:i:s\Z' ) ) );
	}

	/**
	 * Forwards a transition to the daemon and answers the campaign as it now is.
	 *
	 * @param int    $id     Campaign id.
	 * @param string $action start, schedule, pause, resume or cancel.
	 * @param array  $body   Extra body members.
	 * @return WP_REST_Response|WP_Error
	 */
	private function ask_daemon( $id, $action, $body ) {
		if ( null === self::find( $id ) ) {
			return self::not_found( __( 'campaign', 'cloudchat' ) );
		}
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/campaigns/' . $id . '/' . $action, $body, 60 );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		$past = array(
			'start'    => 'started',
			'schedule' => 'scheduled',
			'pause'    => 'paused',
			'resume'   => 'resumed',
			'cancel'   => 'cancelled',
		);
		self::audit( 'campaign.' . $past[ $action ], 'campaign', $id );
		return new WP_REST_Response( array( 'campaign' => self::campaign_json( self::find( $id ) ) ) );
	}

	/**
	 * A campaign row, or null.
	 *
	 * @param int $id Campaign id.
	 * @return array|null
	 */
	private static function find( $id ) {
		global $wpdb;
		$table = CloudChat_Tables::name( 'campaigns' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		return $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d", $id ), ARRAY_A );
	}

	/**
	 * Counts of a campaign's recipients, from its rows; the frozen results once retention removed them.
	 *
	 * @param array $row Campaign row.
	 * @return array
	 */
	public static function progress( $row ) {
		global $wpdb;
		$recipients = CloudChat_Tables::name( 'campaign_recipients' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$groups = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT state, state_reason, error_code, COUNT(*) AS n, SUM(replied_at IS NOT NULL) AS replied
				 FROM {$recipients} WHERE campaign_id = %d GROUP BY state, state_reason, error_code",
				(int) $row['id']
			),
			ARRAY_A
		);
		if ( empty( $groups ) && ! empty( $row['results_json'] ) ) {
			$frozen = json_decode( $row['results_json'], true );
			if ( is_array( $frozen ) ) {
				return $frozen;
			}
		}
		return self::count_groups( $groups );
	}

	/**
	 * Sums recipient groups into the progress the screens show.
	 *
	 * @param array $groups Rows of state, state_reason, error_code, n, replied.
	 * @return array
	 */
	public static function count_groups( $groups ) {
		$by_state = array();
		$failed   = array();
		$skipped  = array();
		$replied  = 0;
		foreach ( $groups as $group ) {
			$n                          = (int) $group['n'];
			$by_state[ $group['state'] ] = ( $by_state[ $group['state'] ] ?? 0 ) + $n;
			$replied                   += (int) $group['replied'];
			if ( 'failed' === $group['state'] ) {
				$code            = null === $group['error_code'] ? 'unknown' : (string) $group['error_code'];
				$failed[ $code ] = ( $failed[ $code ] ?? 0 ) + $n;
			} elseif ( 'skipped' === $group['state'] ) {
				$reason             = null === $group['state_reason'] ? 'unknown' : (string) $group['state_reason'];
				$skipped[ $reason ] = ( $skipped[ $reason ] ?? 0 ) + $n;
			}
		}
		$funnel = CloudChat_Format::funnel( $by_state );
		return array(
			'total'             => array_sum( $by_state ),
			'pending'           => $by_state['pending'] ?? 0,
			'sending'           => $by_state['sending'] ?? 0,
			'sent'              => $funnel['sent'],
			'delivered'         => $funnel['delivered'],
			'read'              => $funnel['read'],
			'replied'           => $replied,
			'failed'            => $by_state['failed'] ?? 0,
			'skipped'           => $by_state['skipped'] ?? 0,
			'failed_by_code'    => (object) $failed,
			'skipped_by_reason' => (object) $skipped,
		);
	}

	/**
	 * A campaign as the screens read it.
	 *
	 * @param array $row Campaign row.
	 * @return array
	 */
	public static function campaign_json( $row ) {
		$audience = json_decode( (string) $row['audience_json'], true );
		return array(
			'id'             => (int) $row['id'],
			'name'           => $row['name'],
			'account_id'     => (int) $row['account_id'],
			'template'       => array(
				'id'       => (int) $row['template_id'],
				'name'     => $row['template_name'],
				'language' => $row['template_language'],
			),
			'state'          => $row['state'],
			'state_reason'   => $row['state_reason'],
			'error_code'     => null === $row['error_code'] ? null : (int) $row['error_code'],
			'error_details'  => $row['error_details'],
			'scheduled_at'   => CloudChat_Tables::iso( $row['scheduled_at'] ),
			'resume_at'      => CloudChat_Tables::iso( $row['resume_at'] ),
			'started_at'     => CloudChat_Tables::iso( $row['started_at'] ),
			'completed_at'   => CloudChat_Tables::iso( $row['completed_at'] ),
			'cancelled_at'   => CloudChat_Tables::iso( $row['cancelled_at'] ),
			'created_at'     => CloudChat_Tables::iso( $row['created_at'] ),
			'rate_limit_mps' => null === $row['rate_limit_mps'] ? null : (float) $row['rate_limit_mps'],
			'audience'       => is_array( $audience ) ? $audience : null,
			'progress'       => self::progress( $row ),
		);
	}
}
