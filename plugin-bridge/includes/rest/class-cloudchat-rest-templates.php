<?php
/**
 * Template routes: the synced list and a sync on demand.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Templates are the daemon's (synced from Meta); the plugin lists them and asks for a sync.
 */
class CloudChat_REST_Templates extends CloudChat_REST_Controller {

	/**
	 * Registers the routes.
	 */
	public function register_routes() {
		$this->route(
			'/templates',
			'GET',
			array( $this, 'list_templates' ),
			CloudChat_Roles::AGENT,
			array(
				'status' => array(
					'type'    => 'string',
					'pattern' => '^[A-Z_]{0,32}$',
					'default' => '',
				),
			)
		);
		$this->route( '/templates/sync', 'POST', array( $this, 'sync' ), CloudChat_Roles::MANAGE );
	}

	/**
	 * GET templates: every template of the site's WABAs.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public function list_templates( WP_REST_Request $request ) {
		global $wpdb;
		$templates = CloudChat_Tables::name( 'templates' );
		$accounts  = CloudChat_Tables::name( 'accounts' );
		$status    = (string) $request['status'];
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		$sql = "SELECT t.id, t.waba_id, t.name, t.language, t.category, t.status, t.status_reason, t.quality_score,
		               t.parameter_format, t.components_json, t.synced_at, t.removed_at
		        FROM {$templates} t
		        WHERE t.waba_id IN (SELECT waba_id FROM {$accounts}) AND t.removed_at IS NULL";
		$rows = '' === $status
			? $wpdb->get_results( $sql . ' ORDER BY t.name, t.language', ARRAY_A )
			: $wpdb->get_results( $wpdb->prepare( $sql . ' AND t.status = %s ORDER BY t.name, t.language', $status ), ARRAY_A );
		// phpcs:enable
		return new WP_REST_Response( array( 'templates' => array_map( array( __CLASS__, 'template_json' ), $rows ) ) );
	}

	/**
	 * POST templates/sync: asks the daemon to sync now and answers its counts.
	 *
	 * @return WP_REST_Response|WP_Error
	 */
	public function sync() {
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/templates/sync', array(), 60 );
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		self::audit( 'templates.synced', 'template' );
		return new WP_REST_Response( array( 'synced' => isset( $answer['synced'] ) ? $answer['synced'] : array() ) );
	}

	/**
	 * An APPROVED template of the account's WABA, decoded; or why it cannot be sent.
	 *
	 * @param int $template_id Template row id.
	 * @param int $account_id  The sending number.
	 * @return array|WP_Error
	 */
	public static function find_sendable( $template_id, $account_id ) {
		global $wpdb;
		$templates = CloudChat_Tables::name( 'templates' );
		$accounts  = CloudChat_Tables::name( 'accounts' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		$row = $wpdb->get_row(
			$wpdb->prepare(
				"SELECT t.id, t.name, t.language, t.status, t.parameter_format, t.components_json
				 FROM {$templates} t JOIN {$accounts} a ON a.waba_id = t.waba_id
				 WHERE t.id = %d AND a.id = %d AND t.removed_at IS NULL",
				$template_id,
				$account_id
			),
			ARRAY_A
		);
		if ( null === $row ) {
			return self::not_found( __( 'template for this number', 'cloudchat' ) );
		}
		if ( 'APPROVED' !== $row['status'] ) {
			return new WP_Error(
				'cloudchat_template_not_approved',
				/* translators: 1: template name, 2: its status at Meta. */
				sprintf( __( 'The template %1$s is %2$s at Meta; only APPROVED templates can be sent.', 'cloudchat' ), $row['name'], $row['status'] ),
				array( 'status' => 409 )
			);
		}
		$row['components'] = json_decode( (string) $row['components_json'], true );
		return $row;
	}

	/**
	 * A template as the screens read it.
	 *
	 * @param array $row Template row.
	 * @return array
	 */
	public static function template_json( $row ) {
		$components = json_decode( (string) $row['components_json'], true );
		$components = is_array( $components ) ? $components : array();
		return array(
			'id'               => (int) $row['id'],
			'waba_id'          => $row['waba_id'],
			'name'             => $row['name'],
			'language'         => $row['language'],
			'category'         => $row['category'],
			'status'           => $row['status'],
			'status_reason'    => $row['status_reason'],
			'quality_score'    => $row['quality_score'],
			'parameter_format' => $row['parameter_format'],
			'parameters'       => count( CloudChat_Format::template_parameters( $components ) ),
			'components'       => $components,
			'synced_at'        => CloudChat_Tables::iso( $row['synced_at'] ),
		);
	}
}
