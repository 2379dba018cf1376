<?php
/**
 * What the screens show: windows, previews, locations, templates and funnels.
 *
 * @package CloudChat
 */

use PHPUnit\Framework\TestCase;

final class FormatTest extends TestCase {

	public function test_the_service_window_closes_24_hours_after_the_last_inbound_message() {
		$now  = strtotime( '2026-11-22 12:00:00 UTC' );
		$open = CloudChat_Format::service_window( '2026-11-21 12:00:01.250000', $now );
		$this->assertTrue( $open['open'] );
		$this->assertSame( '2026-11-22T12:00:01Z', $open['closes_at'] );
		$this->assertFalse( CloudChat_Format::service_window( '2026-11-21 12:00:00', $now )['open'] );
		$this->assertSame(
			array(
				'open'      => false,
				'closes_at' => null,
			),
			CloudChat_Format::service_window( null, $now ),
			'a customer who never wrote can only get templates'
		);
	}

	public function test_previews_show_text_or_say_what_the_message_is() {
		$this->assertSame( 'Hello there', CloudChat_Format::preview( 'text', "Hello\n  there" ) );
		$this->assertSame( 'Photo', CloudChat_Format::preview( 'image', null ) );
		$this->assertSame( 'A caption', CloudChat_Format::preview( 'image', 'A caption' ) );
		$this->assertSame( 'Reacted 👍', CloudChat_Format::preview( 'reaction', '👍' ) );
		$this->assertSame( 'Removed a reaction', CloudChat_Format::preview( 'reaction', null ) );
		$this->assertSame( '[order message]', CloudChat_Format::preview( 'order', null ) );
		$long = str_repeat( 'é', 200 );
		$this->assertSame( 120, mb_strlen( CloudChat_Format::preview( 'text', $long ) ) );
	}

	public function test_a_location_gets_a_map_link_and_junk_gets_nothing() {
		$location = CloudChat_Format::location(
			array(
				'location' => array(
					'latitude'  => 40.4168,
					'longitude' => -3.7038,
					'name'      => 'Sol',
				),
			)
		);
		$this->assertSame( 'Sol', $location['name'] );
		$this->assertStringContainsString( 'mlat=40.416800&mlon=-3.703800', $location['map_url'] );
		$this->assertNull( CloudChat_Format::location( array( 'location' => array( 'latitude' => 'javascript:alert(1)' ) ) ) );
		$this->assertNull( CloudChat_Format::location( null ) );
	}

	public function test_template_parameters_are_found_in_the_body_positional_or_named() {
		$positional = array(
			array(
				'type' => 'HEADER',
				'text' => 'Hi {{9}}',
			),
			array(
				'type' => 'BODY',
				'text' => 'Order {{1}} is {{2}}; again {{1}}',
			),
		);
		$this->assertSame( array( '1', '2' ), CloudChat_Format::template_parameters( $positional ) );
		$named = array(
			array(
				'type' => 'BODY',
				'text' => 'Hi {{first_name}}, {{ discount }} off',
			),
		);
		$this->assertSame( array( 'first_name', 'discount' ), CloudChat_Format::template_parameters( $named ) );
	}

	public function test_a_template_reply_fills_its_parameters_in_order() {
		$template = array(
			'name'             => 'spring_sale',
			'language'         => 'en_US',
			'parameter_format' => 'NAMED',
			'components'       => array(
				array(
					'type' => 'BODY',
					'text' => 'Hi {{first_name}}, {{discount}} off',
				),
			),
		);
		$payload  = CloudChat_Format::template_payload( $template, array( 'Ana', '20%' ) );
		$this->assertSame( 'template', $payload['type'] );
		$this->assertSame( array( 'code' => 'en_US' ), $payload['template']['language'] );
		$this->assertSame(
			array(
				'type'           => 'text',
				'text'           => '20%',
				'parameter_name' => 'discount',
			),
			$payload['template']['components'][0]['parameters'][1]
		);
		$this->assertInstanceOf( WP_Error::class, CloudChat_Format::template_payload( $template, array( 'Ana' ) ) );
		$this->assertInstanceOf( WP_Error::class, CloudChat_Format::template_payload( $template, array( 'Ana', ' ' ) ), 'Meta refuses empty parameters' );
		$hello = CloudChat_Format::template_payload(
			array(
				'name'             => 'hello_world',
				'language'         => 'en_US',
				'parameter_format' => 'POSITIONAL',
				'components'       => array(),
			),
			array()
		);
		$this->assertArrayNotHasKey( 'components', $hello['template'] );
	}

	public function test_the_funnel_counts_a_read_message_as_sent_and_delivered() {
		$this->assertSame(
			array(
				'read'      => 4,
				'delivered' => 7,
				'sent'      => 9,
			),
			CloudChat_Format::funnel(
				array(
					'sent'      => 2,
					'delivered' => 3,
					'read'      => 4,
					'failed'    => 5,
				)
			)
		);
	}
}
