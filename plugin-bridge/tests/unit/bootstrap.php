<?php
/**
 * Loads the plugin's pure classes for unit tests, with the few WordPress
 * functions they call. Database and REST behaviour are tested in a real
 * WordPress by the end-to-end tests.
 *
 * @package CloudChat
 */

define( 'ABSPATH', __DIR__ . '/' );

/**
 * Translation: the text as written.
 *
 * @param string $text   Text.
 * @param string $domain Text domain.
 * @return string
 */
function __( $text, $domain = 'default' ) {
	return $text;
}

/**
 * WordPress's URL parser.
 *
 * @param string $url URL.
 * @return array|false
 */
function wp_parse_url( $url ) {
	return parse_url( $url );
}

/**
 * Removes trailing slashes.
 *
 * @param string $value Text.
 * @return string
 */
function untrailingslashit( $value ) {
	return rtrim( $value, '/\\' );
}

/**
 * The small part of WP_Error the plugin's pure classes use.
 */
class WP_Error {
	/** @var string */
	public $code;
	/** @var string */
	public $message;
	/** @var array */
	public $data;

	public function __construct( $code = '', $message = '', $data = array() ) {
		$this->code    = $code;
		$this->message = $message;
		$this->data    = $data;
	}

	public function get_error_code() {
		return $this->code;
	}

	public function get_error_message() {
		return $this->message;
	}
}

/**
 * The current blog, as a test sets it.
 *
 * @return int
 */
function get_current_blog_id() {
	return isset( $GLOBALS['cloudchat_test_blog_id'] ) ? (int) $GLOBALS['cloudchat_test_blog_id'] : 1;
}

/**
 * The part of wpdb the pure classes use: a network's blogs have prefixes `{base}{id}_`.
 */
class CloudChat_Test_Wpdb {
	/** @var string */
	public $base_prefix = 'shop_';

	public function get_blog_prefix( $blog_id = null ) {
		$blog_id = null === $blog_id ? get_current_blog_id() : (int) $blog_id;
		return 1 === $blog_id ? $this->base_prefix : $this->base_prefix . $blog_id . '_';
	}
}

$GLOBALS['wpdb'] = new CloudChat_Test_Wpdb();
define( 'DB_NAME', 'shop-db' );

$plugin = dirname( __DIR__, 2 );
require_once $plugin . '/includes/class-cloudchat-phone.php';
require_once $plugin . '/includes/class-cloudchat-csv.php';
require_once $plugin . '/includes/class-cloudchat-format.php';
require_once $plugin . '/includes/class-cloudchat-settings.php';
require_once $plugin . '/includes/class-cloudchat-daemon-client.php';
