<?php
/**
 * What every CloudChat REST controller shares.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Routes live under `cloudchat/v1`. Each one checks a capability, takes typed
 * arguments (WordPress validates and sanitises them before the callback runs),
 * and answers 503 with the fix while the schema is missing.
 */
abstract class CloudChat_REST_Controller {

	const NAMESPACE_V1 = 'cloudchat/v1';

	/**
	 * Registers the controller's routes.
	 */
	abstract public function register_routes();

	/**
	 * Registers one route for one method.
	 *
	 * @param string   $route      Route pattern after the namespace.
	 * @param string   $method     GET or POST.
	 * @param callable $callback   Handler taking the request.
	 * @param string|string[] $capability Capability the user needs (any of several, for a list).
	 * @param array    $args       Argument schema.
	 */
	protected function route( $route, $method, $callback, $capability, $args = array() ) {
		register_rest_route(
			self::NAMESPACE_V1,
			$route,
			array(
				'methods'             => $method,
				'callback'            => function ( WP_REST_Request $request ) use ( $callback ) {
					return $this->guarded( $callback, $request );
				},
				'permission_callback' => function () use ( $capability ) {
					return self::allowed( $capability );
				},
				'args'                => $args,
			)
		);
	}

	/**
	 * The permission check: 401 for nobody (no session or no nonce), 403 for the wrong capability.
	 *
	 * @param string|string[] $capability The capability, or a list of which any will do.
	 * @return true|WP_Error
	 */
	public static function allowed( $capability ) {
		foreach ( (array) $capability as $one ) {
			if ( current_user_can( $one ) ) {
				return true;
			}
		}
		return new WP_Error(
			'cloudchat_forbidden',
			is_user_logged_in()
				? __( 'Your account is not allowed to do this in CloudChat.', 'cloudchat' )
				: __( 'You are not logged in, or the request did not carry a valid nonce.', 'cloudchat' ),
			array( 'status' => rest_authorization_required_code() )
		);
	}

	/**
	 * Runs a handler after the schema check, turning database failures into a clear 500.
	 *
	 * @param callable        $callback The handler.
	 * @param WP_REST_Request $request  The request.
	 * @return WP_REST_Response|WP_Error
	 */
	private function guarded( $callback, WP_REST_Request $request ) {
		global $wpdb;
		$problem = CloudChat_Schema::problem();
		if ( null !== $problem ) {
			return new WP_Error( 'cloudchat_schema_missing', $problem, array( 'status' => 503 ) );
		}
		$wpdb->last_error = '';
		$result           = call_user_func( $callback, $request );
		if ( '' !== $wpdb->last_error && ! is_wp_error( $result ) ) {
			return new WP_Error(
				'cloudchat_database_error',
				__( 'CloudChat could not read or write its tables. The details are in the PHP error log.', 'cloudchat' ),
				array( 'status' => 500 )
			);
		}
		return $result;
	}

	/**
	 * The schema of a positive integer id argument.
	 *
	 * @param bool $required Whether it must be present.
	 * @return array
	 */
	protected static function id_arg( $required = true ) {
		return array(
			'type'     => 'integer',
			'minimum'  => 1,
			'required' => $required,
		);
	}

	/**
	 * Paging arguments.
	 *
	 * @return array
	 */
	protected static function paging_args() {
		return array(
			'page'     => array(
				'type'    => 'integer',
				'minimum' => 1,
				'default' => 1,
			),
			'per_page' => array(
				'type'    => 'integer',
				'minimum' => 1,
				'maximum' => 100,
				'default' => 50,
			),
		);
	}

	/**
	 * A 404 for a row that does not exist in this site.
	 *
	 * @param string $what What was looked for: "conversation", "contact"…
	 * @return WP_Error
	 */
	protected static function not_found( $what ) {
		return new WP_Error(
			'cloudchat_not_found',
			/* translators: %s: conversation, contact, campaign… */
			sprintf( __( 'No such %s in this site.', 'cloudchat' ), $what ),
			array( 'status' => 404 )
		);
	}

	/**
	 * A 400 with a message.
	 *
	 * @param string $code    Error code after `cloudchat_`.
	 * @param string $message What was wrong and what to do.
	 * @return WP_Error
	 */
	protected static function bad_request( $code, $message ) {
		return new WP_Error( 'cloudchat_' . $code, $message, array( 'status' => 400 ) );
	}

	/**
	 * Writes an audit entry: who did what to which object, never contact data.
	 *
	 * @param string   $action      Dotted verb, e.g. `campaign.started`.
	 * @param string   $object_type account, campaign, contact, settings…
	 * @param int|null $object_id   The object's id.
	 * @param array    $details     Non-personal details.
	 */
	protected static function audit( $action, $object_type, $object_id = null, $details = array() ) {
		global $wpdb;
		$wpdb->insert(
			CloudChat_Tables::name( 'audit_log' ),
			array(
				'occurred_at'   => CloudChat_Tables::now(),
				'actor_type'    => 'wp_user',
				'actor_user_id' => get_current_user_id(),
				'action'        => $action,
				'object_type'   => $object_type,
				'object_id'     => $object_id,
				'details_json'  => empty( $details ) ? null : wp_json_encode( $details ),
			),
			array( '%s', '%s', '%d', '%s', '%s', '%d', '%s' )
		);
	}
}
