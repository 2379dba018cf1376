<?php
/**
 * The control API's signatures, and the settings that reach the daemon.
 *
 * @package CloudChat
 */

use PHPUnit\Framework\TestCase;

final class DaemonSigningTest extends TestCase {

	public function test_the_request_signature_covers_time_method_path_and_body() {
		// Computed apart from PHP: printf '1700000000\nPOST\n/v1/notify\n{}' | openssl dgst -sha256 -hmac secret
		$expected = 'sha256=0dabd79efc05dcf3cbcff914c86b3815fb173b83b584e6ea33b844b6187c2388';
		$this->assertSame( $expected, CloudChat_Daemon_Client::request_signature( 'secret', '1700000000', 'POST', '/v1/notify', '{}' ) );
		$this->assertNotSame(
			CloudChat_Daemon_Client::request_signature( 'secret', '1700000000', 'POST', '/v1/notify', '{}' ),
			CloudChat_Daemon_Client::request_signature( 'secret', '1700000000', 'POST', '/v1/notify?x', '{}' )
		);
	}

	public function test_an_answer_is_bound_to_its_request_and_status() {
		$signature = CloudChat_Daemon_Client::request_signature( 'secret', '1700000000', 'GET', '/v1/status', '' );
		$answer    = CloudChat_Daemon_Client::response_signature( 'secret', $signature, 200, '{"ok":true}' );
		$this->assertSame( 'sha256=' . hash_hmac( 'sha256', $signature . "\n200\n{\"ok\":true}", 'secret' ), $answer );
		$this->assertNotSame( $answer, CloudChat_Daemon_Client::response_signature( 'secret', $signature, 500, '{"ok":true}' ) );
		$this->assertNotSame( $answer, CloudChat_Daemon_Client::response_signature( 'other', $signature, 200, '{"ok":true}' ) );
	}

	public function test_requests_name_the_install_and_blog_they_come_from() {
		$GLOBALS['cloudchat_test_blog_id'] = 3;
		$fields                            = CloudChat_Daemon_Client::site_fields();
		unset( $GLOBALS['cloudchat_test_blog_id'] );
		$this->assertSame( array( 'blog_id' => 3, 'table_prefix' => 'shop_3_', 'db_name' => 'shop-db' ), $fields );
		$this->assertSame( 'shop_', CloudChat_Daemon_Client::site_fields()['table_prefix'] );
	}

	public function test_only_plain_http_addresses_are_taken_for_the_daemon() {
		$this->assertSame( 'http://127.0.0.1:8789', CloudChat_Settings::validate_daemon_url( ' http://127.0.0.1:8789/ ' ) );
		foreach ( array( 'ftp://127.0.0.1', '127.0.0.1:8789', 'http://user:pw@127.0.0.1', 'http://127.0.0.1/?x=1', 'http://' ) as $bad ) {
			$this->assertInstanceOf( WP_Error::class, CloudChat_Settings::validate_daemon_url( $bad ), $bad );
		}
	}
}
