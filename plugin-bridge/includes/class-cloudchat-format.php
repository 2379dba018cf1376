<?php
/**
 * How rows become what the screens show.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Pure functions over rows, so they can be tested without WordPress's database.
 */
final class CloudChat_Format {

	/** WhatsApp's customer-service window: free-form messages within 24 hours of the customer's last one. */
	const SERVICE_WINDOW_SECONDS = 86400;

	/**
	 * Whether an agent may send free-form text, and until when.
	 *
	 * @param string|null $last_inbound_at The conversation's `last_inbound_at` (UTC DATETIME).
	 * @param int|null    $now             Unix time; now when null.
	 * @return array `array( 'open' => bool, 'closes_at' => ISO or null )`.
	 */
	public static function service_window( $last_inbound_at, $now = null ) {
		$now  = null === $now ? time() : $now;
		$last = ( null === $last_inbound_at || '' === $last_inbound_at ) ? false : strtotime( $last_inbound_at . ' UTC' );
		if ( false === $last ) {
			return array(
				'open'      => false,
				'closes_at' => null,
			);
		}
		$closes = $last + self::SERVICE_WINDOW_SECONDS;
		return array(
			'open'      => $closes > $now,
			'closes_at' => gmdate( 'Y-m-d\TH:i:s\Z', $closes ),
		);
	}

	/**
	 * A one-line preview of a message for lists and quotes.
	 *
	 * @param string      $type The message type.
	 * @param string|null $body The body column.
	 * @return string
	 */
	public static function preview( $type, $body ) {
		$body = null === $body ? '' : trim( preg_replace( '/\s+/u', ' ', $body ) );
		if ( '' !== $body && 'reaction' !== $type ) {
			return function_exists( 'mb_substr' ) && mb_strlen( $body ) > 120 ? mb_substr( $body, 0, 119 ) . '…' : $body;
		}
		$labels = array(
			'image'    => __( 'Photo', 'cloudchat' ),
			'video'    => __( 'Video', 'cloudchat' ),
			'audio'    => __( 'Voice message', 'cloudchat' ),
			'document' => __( 'Document', 'cloudchat' ),
			'sticker'  => __( 'Sticker', 'cloudchat' ),
			'location' => __( 'Location', 'cloudchat' ),
			'contacts' => __( 'Contact card', 'cloudchat' ),
			'template' => __( 'Template message', 'cloudchat' ),
		);
		if ( 'reaction' === $type ) {
			/* translators: %s: the reaction emoji. */
			return '' === $body ? __( 'Removed a reaction', 'cloudchat' ) : sprintf( __( 'Reacted %s', 'cloudchat' ), $body );
		}
		/* translators: %s: a WhatsApp message type such as "order". */
		return isset( $labels[ $type ] ) ? $labels[ $type ] : sprintf( __( '[%s message]', 'cloudchat' ), $type );
	}

	/**
	 * A location from a message's payload, with a map link that needs no account or tracking.
	 *
	 * @param array|null $payload The decoded `payload_json`.
	 * @return array|null
	 */
	public static function location( $payload ) {
		if ( ! is_array( $payload ) || ! isset( $payload['location'] ) || ! is_array( $payload['location'] ) ) {
			return null;
		}
		$place = $payload['location'];
		if ( ! isset( $place['latitude'], $place['longitude'] ) || ! is_numeric( $place['latitude'] ) || ! is_numeric( $place['longitude'] ) ) {
			return null;
		}
		$latitude  = (float) $place['latitude'];
		$longitude = (float) $place['longitude'];
		return array(
			'latitude'  => $latitude,
			'longitude' => $longitude,
			'name'      => isset( $place['name'] ) ? (string) $place['name'] : null,
			'address'   => isset( $place['address'] ) ? (string) $place['address'] : null,
			'map_url'   => sprintf( 'https://www.openstreetmap.org/?mlat=%1$.6F&mlon=%2$.6F#map=16/%1$.6F/%2$.6F', $latitude, $longitude ),
		);
	}

	/**
	 * The parameters a template's body (and header text) takes, in order: `1`, `2`… or names.
	 *
	 * @param array $components The template's components as Meta returns them.
	 * @return string[]
	 */
	public static function template_parameters( $components ) {
		$names = array();
		foreach ( (array) $components as $component ) {
			if ( ! is_array( $component ) || ! isset( $component['type'] ) || 'BODY' !== strtoupper( (string) $component['type'] ) ) {
				continue;
			}
			if ( preg_match_all( '/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/', isset( $component['text'] ) ? (string) $component['text'] : '', $matches ) ) {
				foreach ( $matches[1] as $name ) {
					if ( ! in_array( $name, $names, true ) ) {
						$names[] = $name;
					}
				}
			}
		}
		return $names;
	}

	/**
	 * A template send's payload for the outbox, filling the body's parameters in order.
	 *
	 * @param array    $template   Row with `name`, `language`, `parameter_format`, `components` (decoded).
	 * @param string[] $values     One value per parameter.
	 * @return array|WP_Error
	 */
	public static function template_payload( $template, $values ) {
		$names = self::template_parameters( $template['components'] );
		if ( count( $values ) !== count( $names ) ) {
			return new WP_Error(
				'cloudchat_template_parameters',
				sprintf(
					/* translators: 1: template name, 2: number of parameters it needs, 3: number given. */
					__( 'The template %1$s needs %2$d parameter values; %3$d were given.', 'cloudchat' ),
					$template['name'],
					count( $names ),
					count( $values )
				),
				array( 'status' => 400 )
			);
		}
		$named      = 'NAMED' === strtoupper( (string) $template['parameter_format'] );
		$parameters = array();
		foreach ( array_values( $values ) as $index => $value ) {
			$value = trim( (string) $value );
			if ( '' === $value ) {
				return new WP_Error( 'cloudchat_template_parameters', __( 'Every template parameter needs a value: WhatsApp refuses empty ones.', 'cloudchat' ), array( 'status' => 400 ) );
			}
			$parameter = array(
				'type' => 'text',
				'text' => $value,
			);
			if ( $named ) {
				$parameter['parameter_name'] = $names[ $index ];
			}
			$parameters[] = $parameter;
		}
		$body = array(
			'name'     => $template['name'],
			'language' => array( 'code' => $template['language'] ),
		);
		if ( ! empty( $parameters ) ) {
			$body['components'] = array(
				array(
					'type'       => 'body',
					'parameters' => $parameters,
				),
			);
		}
		return array(
			'type'     => 'template',
			'template' => $body,
		);
	}

	/**
	 * Cumulative funnel counts from recipient counts by state: a read message was also sent and delivered.
	 *
	 * @param array $by_state Counts keyed by recipient state.
	 * @return array sent, delivered, read.
	 */
	public static function funnel( $by_state ) {
		$count = function ( $state ) use ( $by_state ) {
			return isset( $by_state[ $state ] ) ? (int) $by_state[ $state ] : 0;
		};
		return array(
			'read'      => $count( 'read' ),
			'delivered' => $count( 'delivered' ) + $count( 'read' ),
			'sent'      => $count( 'sent' ) + $count( 'delivered' ) + $count( 'read' ),
		);
	}
}
