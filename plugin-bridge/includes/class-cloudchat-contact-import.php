<?php
/**
 * Contacts from a CSV file.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Checks a file row by row (the preview), then creates or updates contacts by
 * number. A bad row is reported with its line and left out; the rest go in.
 */
final class CloudChat_Contact_Import {

	/**
	 * The parsed file.
	 *
	 * @var CloudChat_CSV
	 */
	private $csv;

	/**
	 * The column holding numbers.
	 *
	 * @var string
	 */
	private $phone_column;

	/**
	 * The column holding names, or null.
	 *
	 * @var string|null
	 */
	private $name_column;

	/**
	 * Reads a file and picks its columns.
	 *
	 * @param string $text         The file's text.
	 * @param string $phone_column Column of numbers; guessed from usual names when empty.
	 * @param string $name_column  Column of names; `name` when empty and present.
	 * @return CloudChat_Contact_Import|WP_Error
	 */
	public static function read( $text, $phone_column = '', $name_column = '' ) {
		try {
			$csv = CloudChat_CSV::parse( $text );
		} catch ( InvalidArgumentException $error ) {
			return new WP_Error( 'cloudchat_invalid_csv', $error->getMessage(), array( 'status' => 400 ) );
		}
		$phone = '' === $phone_column ? $csv->guess_phone_column() : $csv->column( $phone_column );
		if ( null === $phone ) {
			return new WP_Error(
				'cloudchat_invalid_csv',
				sprintf(
					/* translators: %s: the file's column names. */
					__( 'No phone column found. The file\'s columns are: %s. Choose the one that holds the numbers.', 'cloudchat' ),
					implode( ', ', $csv->columns )
				),
				array( 'status' => 400 )
			);
		}
		$import               = new self();
		$import->csv          = $csv;
		$import->phone_column = $phone;
		$import->name_column  = '' === $name_column ? $csv->column( 'name' ) : $csv->column( $name_column );
		return $import;
	}

	/**
	 * The file's column names.
	 *
	 * @return string[]
	 */
	public function columns() {
		return $this->csv->columns;
	}

	/**
	 * The column of numbers in use.
	 *
	 * @return string
	 */
	public function phone_column() {
		return $this->phone_column;
	}

	/**
	 * Every row with its number, name and problem (null when it can be imported).
	 *
	 * @return array[] `line`, `phone` (digits or what was written), `name`, `error`, `fields` (other columns).
	 */
	public function rows() {
		$seen   = array();
		$result = array();
		foreach ( $this->csv->rows as $row ) {
			$raw    = $row['values'][ $this->phone_column ];
			$phone  = CloudChat_Phone::normalize( $raw );
			$error  = null;
			if ( '' === $raw ) {
				$error = __( 'no number', 'cloudchat' );
			} elseif ( null === $phone ) {
				$error = __( 'not a number in international form, such as +1 650 555 1234', 'cloudchat' );
			} elseif ( isset( $seen[ $phone ] ) ) {
				/* translators: %d: the earlier line with the same number. */
				$error = sprintf( __( 'the same number as line %d', 'cloudchat' ), $seen[ $phone ] );
			} else {
				$seen[ $phone ] = $row['line'];
			}
			$fields = $row['values'];
			unset( $fields[ $this->phone_column ] );
			if ( null !== $this->name_column ) {
				unset( $fields[ $this->name_column ] );
			}
			$result[] = array(
				'line'   => $row['line'],
				'phone'  => null === $phone ? $raw : $phone,
				'name'   => null === $this->name_column ? '' : $row['values'][ $this->name_column ],
				'error'  => $error,
				'fields' => $fields,
			);
		}
		return $result;
	}

	/**
	 * Creates or updates the contacts of every good row.
	 *
	 * @param int      $account_id The business number the contacts belong to.
	 * @param string[] $tags       Tags to add to each.
	 * @param bool     $opted_in   Whether the file records consent (a consent event per contact that was not opted in).
	 * @return array `created`, `updated`, `errors` (line and error).
	 */
	public function run( $account_id, $tags, $opted_in ) {
		global $wpdb;
		$contacts = CloudChat_Tables::name( 'contacts' );
		$report   = array(
			'created' => 0,
			'updated' => 0,
			'errors'  => array(),
		);
		foreach ( $this->rows() as $row ) {
			if ( null !== $row['error'] ) {
				$report['errors'][] = array(
					'line'  => $row['line'],
					'error' => $row['error'],
				);
				continue;
			}
			$now = CloudChat_Tables::now();
			// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
			$existing = $wpdb->get_row( $wpdb->prepare( "SELECT id, consent_state FROM {$contacts} WHERE account_id = %d AND (wa_id = %s OR phone = %s) ORDER BY id LIMIT 1", $account_id, $row['phone'], $row['phone'] ), ARRAY_A );
			$fields   = empty( $row['fields'] ) ? null : wp_json_encode( $row['fields'] );
			if ( null === $existing ) {
				$inserted = $wpdb->insert(
					$contacts,
					array(
						'account_id'         => $account_id,
						'wa_id'              => $row['phone'],
						'phone'              => $row['phone'],
						'name'               => '' === $row['name'] ? null : $row['name'],
						'custom_fields_json' => $fields,
						'source'             => 'import',
						'consent_state'      => 'unknown',
						'created_at'         => $now,
						'updated_at'         => $now,
					),
					array( '%d', '%s', '%s', '%s', '%s', '%s', '%s', '%s', '%s' )
				);
				if ( false === $inserted ) {
					$report['errors'][] = array(
						'line'  => $row['line'],
						'error' => __( 'could not be saved', 'cloudchat' ),
					);
					continue;
				}
				$contact_id = (int) $wpdb->insert_id;
				$consent    = 'unknown';
				++$report['created'];
			} else {
				$contact_id = (int) $existing['id'];
				$consent    = $existing['consent_state'];
				$changes    = array( 'updated_at' => $now );
				if ( '' !== $row['name'] ) {
					$changes['name'] = $row['name'];
				}
				if ( null !== $fields ) {
					// Merge, so columns of an earlier import stay.
					// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
					$wpdb->query( $wpdb->prepare( "UPDATE {$contacts} SET custom_fields_json = JSON_MERGE_PATCH(COALESCE(custom_fields_json, '{}'), %s) WHERE id = %d", $fields, $contact_id ) );
				}
				$wpdb->update( $contacts, $changes, array( 'id' => $contact_id ) );
				++$report['updated'];
			}
			CloudChat_REST_Contacts::add_tags( $contact_id, $tags );
			if ( $opted_in && 'opted_in' !== $consent && 'opted_out' !== $consent ) {
				// An import never overrides an opt-out: only the person can undo that.
				CloudChat_REST_Contacts::record_consent( $contact_id, $account_id, 'opted_in', 'import', __( 'CSV import', 'cloudchat' ) );
			}
		}
		return $report;
	}
}
