<?php
/**
 * Numbers and CSV files as site owners bring them.
 *
 * @package CloudChat
 */

use PHPUnit\Framework\TestCase;

final class PhoneAndCSVTest extends TestCase {

	public function test_numbers_in_every_international_spelling_become_digits() {
		$this->assertSame( '16505551234', CloudChat_Phone::normalize( '+1 (650) 555-1234' ) );
		$this->assertSame( '16505551234', CloudChat_Phone::normalize( '0016505551234' ) );
		$this->assertSame( '16505551234', CloudChat_Phone::normalize( ' 16505551234 ' ) );
		$this->assertSame( '34612345678', CloudChat_Phone::normalize( "+34\xC2\xA0612.34.56.78" ) );
	}

	public function test_what_is_not_an_international_number_is_refused() {
		$this->assertNull( CloudChat_Phone::normalize( '' ) );
		$this->assertNull( CloudChat_Phone::normalize( '0612345678' ), 'a national number with a trunk zero' );
		$this->assertNull( CloudChat_Phone::normalize( '123456' ), 'too short' );
		$this->assertNull( CloudChat_Phone::normalize( '1234567890123456' ), 'too long' );
		$this->assertNull( CloudChat_Phone::normalize( '+1 650 CALL NOW' ) );
		$this->assertSame( '+16505551234', CloudChat_Phone::display( '16505551234' ) );
	}

	public function test_a_spreadsheet_export_with_bom_semicolons_quotes_and_crlf_is_read() {
		$text = "\xEF\xBB\xBFphone;Name;note\r\n+1 650 555 0001;\"Ana; the first\";\"said \"\"hi\"\"\"\r\n\r\n+1 650 555 0002;Bo;\"two\nlines\"\r\n+1 650 555 0003;Cy\r\n";
		$csv  = CloudChat_CSV::parse( $text );
		$this->assertSame( array( 'phone', 'Name', 'note' ), $csv->columns );
		$this->assertCount( 3, $csv->rows );
		$this->assertSame( 'Ana; the first', $csv->rows[0]['values']['Name'] );
		$this->assertSame( 'said "hi"', $csv->rows[0]['values']['note'] );
		$this->assertSame( "two\nlines", $csv->rows[1]['values']['note'] );
		$this->assertSame( array( 2, 4, 6 ), array_column( $csv->rows, 'line' ), 'lines count from the file, blank and multi-line records included' );
		$this->assertSame( '', $csv->rows[2]['values']['note'], 'a short row gets empty values' );
		$this->assertSame( 'Name', $csv->column( 'name' ) );
		$this->assertSame( 'phone', $csv->guess_phone_column() );
	}

	public function test_a_file_without_a_usual_phone_column_has_no_guess() {
		$csv = CloudChat_CSV::parse( "who,where\nAna,Madrid\n" );
		$this->assertNull( $csv->guess_phone_column() );
		$this->assertSame( 'Madrid', $csv->rows[0]['values']['where'] );
	}

	public function test_an_unclosed_quote_names_its_line() {
		$this->expectException( InvalidArgumentException::class );
		$this->expectExceptionMessage( 'line 3' );
		CloudChat_CSV::parse( "phone,name\n1650,Ana\n1651,\"Bo\n" );
	}

	public function test_an_empty_file_says_it_needs_a_header() {
		$this->expectException( InvalidArgumentException::class );
		$this->expectExceptionMessage( 'header row' );
		CloudChat_CSV::parse( "\xEF\xBB\xBF" );
	}
}
