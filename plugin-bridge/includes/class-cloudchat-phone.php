<?php
/**
 * Phone numbers in the form the tables keep them.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * E.164 digits without `+`, as Meta's webhooks carry `wa_id`; the same rule as the daemon's import.
 */
final class CloudChat_Phone {

	/**
	 * `+1 (650) 555-1234`, `0016505551234` and `16505551234` all give `16505551234`.
	 *
	 * @param string $text A number as a person typed it.
	 * @return string|null The digits, or null when it is not a plausible international number
	 *                     (7 to 15 digits, no leading zero after the prefix).
	 */
	public static function normalize( $text ) {
		$rest = trim( (string) $text );
		if ( 0 === strpos( $rest, '+' ) ) {
			$rest = substr( $rest, 1 );
		} elseif ( 0 === strpos( $rest, '00' ) ) {
			$rest = substr( $rest, 2 );
		}
		$rest = str_replace( "\xC2\xA0", ' ', $rest );
		if ( '' === $rest || ! preg_match( '/^[0-9 \-.()\/]+$/', $rest ) ) {
			return null;
		}
		$digits = preg_replace( '/[^0-9]/', '', $rest );
		$length = strlen( $digits );
		if ( $length < 7 || $length > 15 || '0' === $digits[0] ) {
			return null;
		}
		return $digits;
	}

	/**
	 * A number shown with a `+`, for screens.
	 *
	 * @param string|null $digits E.164 digits.
	 * @return string
	 */
	public static function display( $digits ) {
		return ( null === $digits || '' === $digits ) ? '' : '+' . $digits;
	}
}
