<?php
/**
 * CSV files as spreadsheets write them.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Reads RFC 4180 text: a header row, comma or semicolon separated (whichever the
 * header uses more), quoted fields with doubled quotes and line breaks, an
 * optional byte-order mark and CRLF or LF line ends.
 */
final class CloudChat_CSV {

	/**
	 * The header's column names.
	 *
	 * @var string[]
	 */
	public $columns = array();

	/**
	 * The data rows: each `array( 'line' => N, 'values' => array( column => value ) )`, N being the
	 * file line the row starts on.
	 *
	 * @var array[]
	 */
	public $rows = array();

	/**
	 * Parses a file's text.
	 *
	 * @param string $text The whole file.
	 * @return CloudChat_CSV
	 * @throws InvalidArgumentException When there is no header row or a quote is never closed.
	 */
	public static function parse( $text ) {
		$text = (string) $text;
		if ( 0 === strpos( $text, "\xEF\xBB\xBF" ) ) {
			$text = substr( $text, 3 );
		}
		$first_line = strtok( $text, "\n" );
		$separator  = substr_count( (string) $first_line, ';' ) > substr_count( (string) $first_line, ',' ) ? ';' : ',';
		$records    = self::records( $text, $separator );
		if ( empty( $records ) || array( '' ) === $records[0]['fields'] ) {
			throw new InvalidArgumentException( __( 'The file is empty: it needs a header row naming its columns, such as "phone,name".', 'cloudchat' ) );
		}
		$table          = new self();
		$table->columns = array_map( 'trim', $records[0]['fields'] );
		foreach ( array_slice( $records, 1 ) as $record ) {
			if ( array( '' ) === $record['fields'] ) {
				continue; // A blank line.
			}
			$values = array();
			foreach ( $table->columns as $index => $column ) {
				$values[ $column ] = isset( $record['fields'][ $index ] ) ? trim( $record['fields'][ $index ] ) : '';
			}
			$table->rows[] = array(
				'line'   => $record['line'],
				'values' => $values,
			);
		}
		return $table;
	}

	/**
	 * The column a name refers to, compared without case; null when there is none.
	 *
	 * @param string $name A column name.
	 * @return string|null
	 */
	public function column( $name ) {
		foreach ( $this->columns as $column ) {
			if ( 0 === strcasecmp( $column, trim( (string) $name ) ) ) {
				return $column;
			}
		}
		return null;
	}

	/**
	 * The first column with a usual name for phone numbers.
	 *
	 * @return string|null
	 */
	public function guess_phone_column() {
		foreach ( array( 'phone', 'phone_number', 'number', 'mobile', 'whatsapp', 'wa_id', 'telephone' ) as $name ) {
			$column = $this->column( $name );
			if ( null !== $column ) {
				return $column;
			}
		}
		return null;
	}

	/**
	 * Splits text into records of fields, remembering where each starts.
	 *
	 * @param string $text      The text without a byte-order mark.
	 * @param string $separator `,` or `;`.
	 * @return array[]
	 * @throws InvalidArgumentException When a quoted field is never closed.
	 */
	private static function records( $text, $separator ) {
		$records = array();
		$fields  = array();
		$field   = '';
		$quoted  = false;
		$line    = 1;
		$start   = 1;
		$length  = strlen( $text );
		for ( $i = 0; $i < $length; $i++ ) {
			$char = $text[ $i ];
			if ( $quoted ) {
				if ( '"' === $char && $i + 1 < $length && '"' === $text[ $i + 1 ] ) {
					$field .= '"';
					++$i;
				} elseif ( '"' === $char ) {
					$quoted = false;
				} else {
					if ( "\n" === $char ) {
						++$line;
					}
					$field .= $char;
				}
				continue;
			}
			if ( '"' === $char && '' === trim( $field ) ) {
				$quoted = true;
				$field  = '';
			} elseif ( $char === $separator ) {
				$fields[] = $field;
				$field    = '';
			} elseif ( "\n" === $char || "\r" === $char ) {
				if ( "\r" === $char && $i + 1 < $length && "\n" === $text[ $i + 1 ] ) {
					++$i;
				}
				$fields[]  = $field;
				$records[] = array(
					'line'   => $start,
					'fields' => $fields,
				);
				$fields    = array();
				$field     = '';
				++$line;
				$start = $line;
			} else {
				$field .= $char;
			}
		}
		if ( $quoted ) {
			/* translators: %d: the line on which the unclosed quote starts. */
			throw new InvalidArgumentException( sprintf( __( 'A quoted field that starts on line %d is never closed.', 'cloudchat' ), $start ) );
		}
		if ( '' !== $field || ! empty( $fields ) ) {
			$fields[]  = $field;
			$records[] = array(
				'line'   => $start,
				'fields' => $fields,
			);
		}
		return $records;
	}
}
