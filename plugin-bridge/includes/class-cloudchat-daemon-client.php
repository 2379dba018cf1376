<?php
/**
 * Signed calls to cloudchatd's control API.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Every request carries `X-CloudChat-Timestamp` and
 * `X-CloudChat-Signature: sha256=HMAC(secret, "<ts>\n<METHOD>\n<path>\n<body>")`.
 * The daemon signs its answer over the request's signature, the status and the
 * body; an answer whose signature does not match is refused, so nothing but the
 * daemon holding the secret can speak for it.
 */
class CloudChat_Daemon_Client {

	/**
	 * Control API base URL.
	 *
	 * @var string
	 */
	private $base_url;

	/**
	 * The shared secret.
	 *
	 * @var string
	 */
	private $secret;

	/**
	 * A client for the configured daemon.
	 *
	 * @param string|null $base_url Control API base URL; the setting when null.
	 * @param string|null $secret   Shared secret; the setting when null.
	 */
	public function __construct( $base_url = null, $secret = null ) {
		$this->base_url = null === $base_url ? CloudChat_Settings::daemon_url() : untrailingslashit( $base_url );
		$this->secret   = null === $secret ? CloudChat_Settings::control_secret() : (string) $secret;
	}

	/**
	 * The request signature header value.
	 *
	 * @param string $secret    The shared secret.
	 * @param string $timestamp Unix seconds.
	 * @param string $method    GET or POST.
	 * @param string $path      Path with query.
	 * @param string $body      Request body.
	 * @return string
	 */
	public static function request_signature( $secret, $timestamp, $method, $path, $body ) {
		return 'sha256=' . hash_hmac( 'sha256', $timestamp . "\n" . $method . "\n" . $path . "\n" . $body, $secret );
	}

	/**
	 * The signature the daemon puts on its answer to a request.
	 *
	 * @param string $secret            The shared secret.
	 * @param string $request_signature The request's signature header.
	 * @param int    $status            HTTP status.
	 * @param string $body              Response body.
	 * @return string
	 */
	public static function response_signature( $secret, $request_signature, $status, $body ) {
		return 'sha256=' . hash_hmac( 'sha256', $request_signature . "\n" . $status . "\n" . $body, $secret );
	}

	/**
	 * What names this site to the daemon: one daemon may serve several WordPress
	 * installs, each known by its database and table prefix, and the blogs of a
	 * network, each with its own prefix.
	 *
	 * @return array `blog_id`, `table_prefix` and `db_name`.
	 */
	public static function site_fields() {
		global $wpdb;
		return array(
			'blog_id'      => get_current_blog_id(),
			'table_prefix' => $wpdb->get_blog_prefix(),
			'db_name'      => defined( 'DB_NAME' ) ? DB_NAME : '',
		);
	}

	/**
	 * Calls the control API.
	 *
	 * @param string     $method  GET or POST.
	 * @param string     $path    Path such as `/v1/status` (with query for GET).
	 * @param array|null $data    JSON body for POST; the site's fields are added (to the query of a GET).
	 * @param int        $timeout Seconds to wait.
	 * @return array|WP_Error The decoded answer, or an error whose message says what to fix.
	 */
	public function request( $method, $path, $data = null, $timeout = 10 ) {
		if ( '' === $this->secret ) {
			return new WP_Error(
				'cloudchat_not_configured',
				__( 'No control secret is set. Enter the secret from the server\'s cloudchatd configuration (control_secret), or the one `cloudchatd control-secret` prints for this site, in CloudChat → Settings.', 'cloudchat' ),
				array( 'status' => 503 )
			);
		}
		$body = '';
		if ( 'POST' === $method ) {
			$data = array_merge( is_array( $data ) ? $data : array(), self::site_fields() );
			$body = wp_json_encode( $data );
		} else {
			$path .= ( false === strpos( $path, '?' ) ? '?' : '&' ) . http_build_query( self::site_fields() );
		}
		$timestamp = (string) time();
		$signature = self::request_signature( $this->secret, $timestamp, $method, $path, $body );
		$response  = wp_remote_request(
			$this->base_url . $path,
			array(
				'method'  => $method,
				'timeout' => $timeout,
				'headers' => array(
					'Content-Type'          => 'application/json',
					'X-CloudChat-Timestamp' => $timestamp,
					'X-CloudChat-Signature' => $signature,
				),
				'body'    => 'POST' === $method ? $body : null,
			)
		);
		if ( is_wp_error( $response ) ) {
			return new WP_Error(
				'cloudchat_daemon_unreachable',
				sprintf(
					/* translators: %s: the daemon's control address. */
					__( 'The CloudChat service at %s cannot be reached. Check that cloudchatd is running (systemctl status cloudchatd) and that the address in Settings matches its control_listen.', 'cloudchat' ),
					$this->base_url
				),
				array( 'status' => 503 )
			);
		}
		$status  = (int) wp_remote_retrieve_response_code( $response );
		$payload = (string) wp_remote_retrieve_body( $response );
		$claimed = (string) wp_remote_retrieve_header( $response, 'x-cloudchat-response-signature' );
		if ( 401 === $status ) {
			return new WP_Error(
				'cloudchat_daemon_refused',
				__( 'The CloudChat service refused the signature. The control secret in Settings must be control_secret from the server\'s cloudchatd configuration or the one `cloudchatd control-secret` prints for this site, cloudchatd must serve this site (also_serve), and both clocks must be right.', 'cloudchat' ),
				array( 'status' => 502 )
			);
		}
		if ( ! hash_equals( self::response_signature( $this->secret, $signature, $status, $payload ), $claimed ) ) {
			return new WP_Error(
				'cloudchat_daemon_unverified',
				sprintf(
					/* translators: %s: the daemon's control address. */
					__( 'The answer from %s is not signed with the control secret, so it was ignored. Check that the address in Settings is cloudchatd\'s control_listen and that both share the secret.', 'cloudchat' ),
					$this->base_url
				),
				array( 'status' => 502 )
			);
		}
		$decoded = json_decode( $payload, true );
		if ( $status >= 400 ) {
			$message = is_array( $decoded ) && isset( $decoded['error'] ) ? (string) $decoded['error'] : __( 'The CloudChat service could not do this.', 'cloudchat' );
			return new WP_Error( 'cloudchat_daemon_error', $message, array( 'status' => $status >= 500 ? 502 : $status ) );
		}
		return is_array( $decoded ) ? $decoded : array();
	}

	/**
	 * Tells the daemon a topic changed (`outbox`, `campaigns`, `templates`, `accounts`). Failing is fine:
	 * the daemon also finds the work by itself.
	 *
	 * @param string $topic The topic.
	 * @return bool Whether the daemon heard it.
	 */
	public function notify( $topic ) {
		$answer = $this->request( 'POST', '/v1/notify', array( 'topic' => $topic ), 3 );
		if ( is_wp_error( $answer ) ) {
			set_transient( 'cloudchat_daemon_reachable', 'no', 15 );
			return false;
		}
		return true;
	}

	/**
	 * Whether the daemon answered lately (remembered for 15 seconds, so screens stay fast).
	 *
	 * @param bool $fresh Ask the daemon now instead of using what is remembered.
	 * @return bool
	 */
	public function is_reachable( $fresh = false ) {
		$known = $fresh ? false : get_transient( 'cloudchat_daemon_reachable' );
		if ( false !== $known ) {
			return 'yes' === $known;
		}
		$reachable = ! is_wp_error( $this->request( 'GET', '/v1/status', null, $fresh ? 4 : 2 ) );
		set_transient( 'cloudchat_daemon_reachable', $reachable ? 'yes' : 'no', 15 );
		return $reachable;
	}
}
