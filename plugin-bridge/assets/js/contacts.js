/**
 * CloudChat Contacts: search, tag filter, tags and consent per contact,
 * export, erasure, correction and restriction (managers), and the CSV import
 * with its preview.
 */
( function () {
	'use strict';

	const { __, _n, sprintf } = wp.i18n;
	const C = window.CloudChat;
	const h = C.h;
	const formRow = C.formRow;

	const PER_PAGE = 20;
	const MAX_CSV_CHARACTERS = 8000000; // the REST route's limit
	const PREVIEW_ROWS_SHOWN = 500;

	C.mount( 'contacts', ( app ) => {
		const list = createContactList();
		app.appendChild( h( 'div', { id: 'cloudchat-contacts', class: 'cloudchat-contacts' }, list.element, C.config.canManage ? createImport( list.reload ).element : null ) );
	} );

	/* ---------------------------------------------------------------- */
	/* The list                                                           */
	/* ---------------------------------------------------------------- */

	function createContactList() {
		let page = 1;
		let total = 0;
		let request = 0; // only the newest answer is shown

		const search = h( 'input', {
			type: 'search',
			id: 'cloudchat-contact-search',
			class: 'cloudchat-search',
			placeholder: __( 'Search by name, number or email', 'cloudchat' ),
			'aria-label': __( 'Search contacts', 'cloudchat' ),
			autocomplete: 'off',
		} );
		const tag = h( 'select', { id: 'cloudchat-contact-tag', 'aria-label': __( 'Filter by tag', 'cloudchat' ) }, h( 'option', { value: '' }, __( 'All tags', 'cloudchat' ) ) );
		const consent = h(
			'select',
			{ id: 'cloudchat-contact-consent', 'aria-label': __( 'Filter by consent', 'cloudchat' ) },
			h( 'option', { value: '' }, __( 'Any consent', 'cloudchat' ) ),
			h( 'option', { value: 'opted_in' }, __( 'Opted in', 'cloudchat' ) ),
			h( 'option', { value: 'opted_out' }, __( 'Opted out', 'cloudchat' ) ),
			h( 'option', { value: 'unknown' }, __( 'Not asked', 'cloudchat' ) )
		);
		const slot = C.noticeSlot(); // loading errors
		const resultSlot = C.noticeSlot(); // what an erasure removed; outlives the reload
		const body = h( 'tbody' );
		const table = h( 'table', { class: 'widefat striped cloudchat-contacts-table' }, h( 'thead', null, headerRow() ), body );
		const count = h( 'span', { class: 'displaying-num' } );
		const pageText = h( 'span', { class: 'cloudchat-page-text' } );
		const previous = h( 'button', { type: 'button', class: 'button cloudchat-page-previous', 'aria-label': __( 'Previous page', 'cloudchat' ), onClick: () => goTo( page - 1 ) }, '‹' );
		const next = h( 'button', { type: 'button', class: 'button cloudchat-page-next', 'aria-label': __( 'Next page', 'cloudchat' ), onClick: () => goTo( page + 1 ) }, '›' );
		const navigation = h( 'div', { class: 'tablenav bottom cloudchat-pagination' }, h( 'div', { class: 'tablenav-pages' }, count, ' ', previous, ' ', pageText, ' ', next ) );
		const element = h(
			'div',
			{ class: 'cloudchat-contact-list' },
			h( 'div', { class: 'cloudchat-toolbar' }, search, tag, consent ),
			slot,
			resultSlot,
			table,
			navigation
		);

		search.addEventListener( 'input', C.debounce( () => goTo( 1 ), 300 ) );
		tag.addEventListener( 'change', () => goTo( 1 ) );
		consent.addEventListener( 'change', () => goTo( 1 ) );
		reload();

		function goTo( target ) {
			page = Math.max( 1, target );
			reload();
		}

		async function reload() {
			const mine = ++request;
			let answer;
			try {
				answer = await C.api( 'contacts', { query: { search: search.value.trim(), tag: tag.value, consent: consent.value, page, per_page: PER_PAGE } } );
			} catch ( error ) {
				if ( mine === request ) {
					C.showError( slot, error );
				}
				return;
			}
			if ( mine !== request || ! answer ) {
				return;
			}
			C.clearNotice( slot );
			const contacts = Array.isArray( answer.contacts ) ? answer.contacts : [];
			total = typeof answer.total === 'number' ? answer.total : contacts.length;
			fillTags( Array.isArray( answer.tags ) ? answer.tags : [] );
			renderRows( contacts );
			renderPagination();
		}

		function fillTags( tags ) {
			const chosen = tag.value;
			const names = tags.slice();
			if ( chosen && ! names.includes( chosen ) ) {
				names.push( chosen ); // keep the filter in use even if no contact has it any more
			}
			C.replaceChildren(
				tag,
				h( 'option', { value: '' }, __( 'All tags', 'cloudchat' ) ),
				names.map( ( name ) => h( 'option', { value: name }, name ) )
			);
			tag.value = chosen;
		}

		function renderRows( contacts ) {
			if ( contacts.length === 0 ) {
				C.replaceChildren( body, h( 'tr', { class: 'no-items' }, h( 'td', { colspan: String( columnCount() ) }, __( 'No contacts found.', 'cloudchat' ) ) ) );
				return;
			}
			C.replaceChildren( body, contacts.map( ( contact ) => contactRow( contact, { onErased: erased } ) ) );
		}

		function renderPagination() {
			const pages = Math.max( 1, Math.ceil( total / PER_PAGE ) );
			/* translators: %s: number of contacts. */
			count.textContent = sprintf( _n( '%s contact', '%s contacts', total, 'cloudchat' ), total.toLocaleString() );
			/* translators: 1: current page, 2: number of pages. */
			pageText.textContent = sprintf( __( 'Page %1$d of %2$d', 'cloudchat' ), page, pages );
			previous.disabled = page <= 1;
			next.disabled = page >= pages;
		}

		function erased( answer ) {
			C.showNotice( resultSlot, 'success', erasureSummary( answer ) );
			reload();
		}

		return { element, reload: () => goTo( 1 ) };
	}

	function columnCount() {
		return C.config.canManage ? 8 : 7;
	}

	function headerRow() {
		return h(
			'tr',
			null,
			h( 'th', { scope: 'col' }, __( 'Name', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Number', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Email', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Tags', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Consent', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Source', 'cloudchat' ) ),
			h( 'th', { scope: 'col' }, __( 'Created', 'cloudchat' ) ),
			C.config.canManage ? h( 'th', { scope: 'col' }, __( 'Personal data', 'cloudchat' ) ) : null
		);
	}

	function displayName( contact ) {
		return contact.display_name || contact.name || contact.profile_name || C.formatPhone( contact.phone || contact.wa_id ) || __( 'Unknown contact', 'cloudchat' );
	}

	/* ---------------------------------------------------------------- */
	/* One contact                                                        */
	/* ---------------------------------------------------------------- */

	/** A row; after a change the row is rebuilt from the contact the server answers. */
	function contactRow( contact, callbacks ) {
		const row = h( 'tr', { class: [ 'cloudchat-contact', contact.restricted ? 'is-restricted' : null ], 'data-contact-id': String( contact.id ) } );
		const replace = ( updated ) => {
			if ( updated ) {
				row.replaceWith( contactRow( updated, callbacks ) );
			}
		};
		const profile = contact.profile_name && contact.profile_name !== contact.name ? contact.profile_name : null;
		C.append(
			row,
			[
				h(
					'td',
					{ class: 'column-name' },
					h( 'strong', null, displayName( contact ) ),
					/* translators: %s: the name the customer gave themselves in WhatsApp. */
					profile && contact.name ? h( 'div', { class: 'cloudchat-muted' }, sprintf( __( 'WhatsApp: %s', 'cloudchat' ), profile ) ) : null
				),
				h( 'td', { class: 'column-number' }, C.formatPhone( contact.phone || contact.wa_id ) ),
				h( 'td', { class: 'column-email' }, contact.email || '' ),
				tagsCell( contact, replace ),
				consentCell( contact, replace ),
				h( 'td', { class: 'column-source' }, contact.source || '—' ),
				h( 'td', { class: 'column-created' }, C.formatTime( contact.created_at ) ),
				C.config.canManage ? personalDataCell( contact, callbacks.onErased, replace ) : null,
			]
		);
		return row;
	}

	function tagsCell( contact, onSaved ) {
		const cell = h( 'td', { class: 'column-tags' } );
		const tags = Array.isArray( contact.tags ) ? contact.tags : [];
		showTags();

		function showTags() {
			C.replaceChildren(
				cell,
				h( 'span', { class: 'cloudchat-tags' }, tags.map( ( tag ) => h( 'span', { class: 'cloudchat-tag' }, tag ) ) ),
				' ',
				h( 'button', { type: 'button', class: 'button button-small cloudchat-edit-tags', onClick: edit }, __( 'Edit tags', 'cloudchat' ) )
			);
		}

		function edit() {
			const input = h( 'input', {
				type: 'text',
				class: 'cloudchat-tags-input',
				value: tags.join( ', ' ),
				'aria-label': __( 'Tags, separated by commas', 'cloudchat' ),
			} );
			const save = h( 'button', { type: 'button', class: 'button button-small button-primary cloudchat-save-tags', onClick: submit }, __( 'Save', 'cloudchat' ) );
			const cancel = h( 'button', { type: 'button', class: 'button button-small cloudchat-cancel-tags', onClick: showTags }, __( 'Cancel', 'cloudchat' ) );
			const slot = C.noticeSlot();
			input.addEventListener( 'keydown', ( event ) => {
				if ( event.key === 'Enter' ) {
					event.preventDefault();
					submit();
				} else if ( event.key === 'Escape' ) {
					showTags();
				}
			} );
			C.replaceChildren( cell, input, ' ', save, ' ', cancel, slot );
			input.focus();

			async function submit() {
				C.setBusy( save, true );
				try {
					const answer = await C.api( 'contacts/' + contact.id + '/tags', { method: 'POST', data: { tags: parseTags( input.value ) } } );
					onSaved( answer && answer.contact );
				} catch ( error ) {
					C.showError( slot, error );
					C.setBusy( save, false );
				}
			}
		}

		return cell;
	}

	/** "vip, Spring 2026 ,vip" → ['vip', 'Spring 2026']. */
	function parseTags( text ) {
		const tags = [];
		String( text || '' ).split( ',' ).forEach( ( part ) => {
			const tag = part.trim();
			if ( tag !== '' && ! tags.includes( tag ) ) {
				tags.push( tag );
			}
		} );
		return tags;
	}

	function consentLabel( state ) {
		const labels = {
			opted_in: __( 'Opted in', 'cloudchat' ),
			opted_out: __( 'Opted out', 'cloudchat' ),
			unknown: __( 'Not asked', 'cloudchat' ),
		};
		return labels[ state ] || state || labels.unknown;
	}

	function consentCell( contact, onSaved ) {
		const optedIn = contact.consent_state === 'opted_in';
		const slot = C.noticeSlot();
		const toggle = h(
			'button',
			{ type: 'button', class: 'button button-small cloudchat-consent-toggle', 'data-consent': optedIn ? 'opted_out' : 'opted_in', onClick: change },
			optedIn ? __( 'Opt out', 'cloudchat' ) : __( 'Opt in', 'cloudchat' )
		);

		async function change() {
			const name = displayName( contact );
			const question = optedIn
				/* translators: %s: contact name. */
				? sprintf( __( 'Record that %s no longer wants WhatsApp messages from you? Campaigns will skip this contact.', 'cloudchat' ), name )
				/* translators: %s: contact name. */
				: sprintf( __( 'Record that %s agreed to receive WhatsApp messages from you? Only do this if they really did.', 'cloudchat' ), name );
			if ( ! window.confirm( question ) ) {
				return;
			}
			C.setBusy( toggle, true );
			try {
				const answer = await C.api( 'contacts/' + contact.id + '/consent', {
					method: 'POST',
					data: { state: optedIn ? 'opted_out' : 'opted_in', note: __( 'Changed in wp-admin', 'cloudchat' ) },
				} );
				onSaved( answer && answer.contact );
			} catch ( error ) {
				C.showError( slot, error );
				C.setBusy( toggle, false );
			}
		}

		return h(
			'td',
			{ class: 'column-consent' },
			h( 'span', { class: [ 'cloudchat-consent', 'is-' + ( contact.consent_state || 'unknown' ) ] }, consentLabel( contact.consent_state ) ),
			contact.consent_source ? h( 'div', { class: 'cloudchat-muted cloudchat-consent-source' }, contact.consent_source ) : null,
			contact.consent_changed_at ? h( 'div', { class: 'cloudchat-muted' }, C.formatTime( contact.consent_changed_at ) ) : null,
			contact.restricted ? h( 'div', { class: 'cloudchat-restricted' }, __( 'Restricted from automated messages', 'cloudchat' ) ) : null,
			h( 'div', null, toggle ),
			slot
		);
	}

	function personalDataCell( contact, onErased, onSaved ) {
		const slot = C.noticeSlot();
		const exportButton = h( 'button', { type: 'button', class: 'button button-small cloudchat-export', onClick: exportData }, __( 'Export', 'cloudchat' ) );
		const eraseButton = h( 'button', { type: 'button', class: 'button button-small button-link-delete cloudchat-erase', onClick: erase }, __( 'Erase', 'cloudchat' ) );
		const editButton = h( 'button', { type: 'button', class: 'button button-small cloudchat-correct', onClick: edit }, __( 'Correct', 'cloudchat' ) );
		const restrictButton = h(
			'button',
			{ type: 'button', class: 'button button-small cloudchat-restrict', 'data-restricted': contact.restricted ? 'true' : 'false', onClick: toggleRestriction },
			contact.restricted ? __( 'Lift restriction', 'cloudchat' ) : __( 'Restrict', 'cloudchat' )
		);
		const form = h( 'div', { class: 'cloudchat-correct-form', hidden: true } );

		/** Name, email and language, corrected in place; an empty field clears the value. */
		function edit() {
			const field = ( name, label, value, type ) =>
				h( 'label', { class: 'cloudchat-correct-field' }, label, ' ', h( 'input', { type: type || 'text', name, value: value || '', class: 'cloudchat-correct-' + name } ) );
			const save = h( 'button', { type: 'button', class: 'button button-small button-primary cloudchat-save-correction', onClick: submit }, __( 'Save', 'cloudchat' ) );
			const cancel = h( 'button', { type: 'button', class: 'button button-small cloudchat-cancel-correction', onClick: () => ( form.hidden = true ) }, __( 'Cancel', 'cloudchat' ) );
			C.replaceChildren(
				form,
				field( 'name', __( 'Name', 'cloudchat' ), contact.name ),
				field( 'email', __( 'Email', 'cloudchat' ), contact.email, 'email' ),
				field( 'locale', __( 'Language (e.g. en_US)', 'cloudchat' ), contact.locale ),
				h( 'div', null, save, ' ', cancel )
			);
			form.hidden = false;
			form.querySelector( 'input' ).focus();

			async function submit() {
				const value = ( name ) => form.querySelector( 'input[name="' + name + '"]' ).value.trim();
				C.setBusy( save, true );
				try {
					const answer = await C.api( 'contacts/' + contact.id, { method: 'POST', data: { name: value( 'name' ), email: value( 'email' ), locale: value( 'locale' ) } } );
					onSaved( answer && answer.contact );
				} catch ( error ) {
					C.showError( slot, error );
					C.setBusy( save, false );
				}
			}
		}

		async function toggleRestriction() {
			const name = displayName( contact );
			const question = contact.restricted
				/* translators: %s: contact name. */
				? sprintf( __( 'Lift the restriction on %s? Campaigns and automations may message them again (if they opted in).', 'cloudchat' ), name )
				/* translators: %s: contact name. */
				: sprintf( __( 'Restrict %s? The contact is kept, but campaigns and automations never message them. Agents can still answer them.', 'cloudchat' ), name );
			if ( ! window.confirm( question ) ) {
				return;
			}
			C.setBusy( restrictButton, true );
			try {
				const answer = await C.api( 'contacts/' + contact.id + '/restriction', {
					method: 'POST',
					data: { restricted: ! contact.restricted, note: __( 'Changed in wp-admin', 'cloudchat' ) },
				} );
				onSaved( answer && answer.contact );
			} catch ( error ) {
				C.showError( slot, error );
				C.setBusy( restrictButton, false );
			}
		}

		async function exportData() {
			C.setBusy( exportButton, true );
			try {
				const data = await C.api( 'contacts/' + contact.id + '/export' );
				download( 'contact-' + contact.id + '.json', JSON.stringify( data, null, 2 ) );
				C.clearNotice( slot );
			} catch ( error ) {
				C.showError( slot, error );
			} finally {
				C.setBusy( exportButton, false );
			}
		}

		async function erase() {
			/* translators: %s: contact name. */
			const warning = sprintf( __( 'Erase everything this site holds about %s: the contact, their messages, media files, consent history and campaign records?\n\nThis cannot be undone. Export the data first if you need a copy.', 'cloudchat' ), displayName( contact ) );
			if ( ! window.confirm( warning ) ) {
				return;
			}
			C.setBusy( eraseButton, true );
			try {
				const answer = await C.api( 'contacts/' + contact.id + '/erase', { method: 'POST', data: { confirm: true } } );
				onErased( answer );
			} catch ( error ) {
				C.showError( slot, error );
				C.setBusy( eraseButton, false );
			}
		}

		return h( 'td', { class: 'column-personal-data' }, exportButton, ' ', eraseButton, ' ', editButton, ' ', restrictButton, form, slot );
	}

	/** Saves text as a file through a temporary Blob link. */
	function download( fileName, text ) {
		const url = URL.createObjectURL( new Blob( [ text ], { type: 'application/json' } ) );
		const link = h( 'a', { href: url, download: fileName, hidden: true } );
		document.body.appendChild( link );
		link.click();
		link.remove();
		setTimeout( () => URL.revokeObjectURL( url ), 1000 );
	}

	/** "Erased: 12 messages rows, …; 3 files." from {erased:{table:N}, files:N}. */
	function erasureSummary( answer ) {
		const erased = answer && answer.erased && typeof answer.erased === 'object' ? answer.erased : {};
		const parts = Object.keys( erased ).map( ( table ) => table + ': ' + erased[ table ] );
		const files = answer && typeof answer.files === 'number' ? answer.files : 0;
		return [
			__( 'The contact was erased.', 'cloudchat' ),
			' ',
			/* translators: %s: list of "table: rows" pairs. */
			parts.length ? sprintf( __( 'Rows removed: %s.', 'cloudchat' ), parts.join( ', ' ) ) : '',
			' ',
			/* translators: %d: number of media files deleted. */
			sprintf( _n( '%d file deleted.', '%d files deleted.', files, 'cloudchat' ), files ),
		].join( '' );
	}

	/* ---------------------------------------------------------------- */
	/* CSV import                                                         */
	/* ---------------------------------------------------------------- */

	function createImport( onImported ) {
		let csv = null; // the chosen file's text

		const file = h( 'input', { type: 'file', id: 'cloudchat-import-file', accept: '.csv,text/csv,text/plain' } );
		const accounts = C.accounts();
		const account = h(
			'select',
			{ id: 'cloudchat-import-account', disabled: accounts.length === 0 },
			accounts.length
				? accounts.map( ( item ) => h( 'option', { value: String( item.id ) }, C.accountLabel( item ) ) )
				: h( 'option', { value: '' }, __( 'No business number is connected yet', 'cloudchat' ) )
		);
		const phoneColumn = h( 'select', { id: 'cloudchat-import-phone-column' }, h( 'option', { value: '' }, __( 'Find it by its name', 'cloudchat' ) ) );
		const nameColumn = h( 'select', { id: 'cloudchat-import-name-column' }, h( 'option', { value: '' }, __( 'None', 'cloudchat' ) ) );
		const tags = h( 'input', { type: 'text', id: 'cloudchat-import-tags', class: 'regular-text', placeholder: __( 'e.g. customers, spring-2026', 'cloudchat' ) } );
		const optedIn = h( 'input', { type: 'checkbox', id: 'cloudchat-import-opted-in' } );
		const previewButton = h( 'button', { type: 'button', id: 'cloudchat-import-preview-button', class: 'button', onClick: preview }, __( 'Preview', 'cloudchat' ) );
		const runButton = h( 'button', { type: 'button', id: 'cloudchat-import-run', class: 'button button-primary', disabled: true, onClick: run }, __( 'Import', 'cloudchat' ) );
		const slot = C.noticeSlot();
		const previewArea = h( 'div', { id: 'cloudchat-import-preview' } );
		const result = h( 'div', { id: 'cloudchat-import-result' } );

		file.addEventListener( 'change', chooseFile );
		// A different column changes which rows are valid: preview again before importing.
		phoneColumn.addEventListener( 'change', stalePreview );
		nameColumn.addEventListener( 'change', stalePreview );

		const element = h(
			'section',
			{ id: 'cloudchat-contact-import', class: 'cloudchat-section' },
			h( 'h2', null, __( 'Import contacts', 'cloudchat' ) ),
			h( 'p', { class: 'description' }, __( 'A CSV file with a header row, separated by commas or semicolons, with one number per row in international form (+1 650 555 1234). Contacts already known by their number are updated.', 'cloudchat' ) ),
			h(
				'table',
				{ class: 'form-table', role: 'presentation' },
				h( 'tbody', null,
					formRow( 'cloudchat-import-file', __( 'CSV file', 'cloudchat' ), file ),
					formRow( 'cloudchat-import-account', __( 'Business number', 'cloudchat' ), account ),
					formRow( 'cloudchat-import-phone-column', __( 'Phone column', 'cloudchat' ), phoneColumn ),
					formRow( 'cloudchat-import-name-column', __( 'Name column', 'cloudchat' ), nameColumn ),
					formRow( 'cloudchat-import-tags', __( 'Tags to add', 'cloudchat' ), tags, __( 'Separated by commas.', 'cloudchat' ) ),
					formRow( 'cloudchat-import-opted-in', __( 'Consent', 'cloudchat' ), h( 'label', { for: 'cloudchat-import-opted-in' }, optedIn, ' ', __( 'These people agreed to receive WhatsApp messages from you', 'cloudchat' ) ) )
				)
			),
			h( 'p', { class: 'cloudchat-buttons' }, previewButton, ' ', runButton ),
			slot,
			previewArea,
			result
		);

		async function chooseFile() {
			csv = null;
			runButton.disabled = true;
			C.replaceChildren( previewArea );
			C.replaceChildren( result );
			C.clearNotice( slot );
			const chosen = file.files && file.files[ 0 ];
			if ( ! chosen ) {
				return;
			}
			try {
				const text = await C.readFileText( chosen );
				if ( text.length > MAX_CSV_CHARACTERS ) {
					C.showNotice( slot, 'error', __( 'This file is too large to import at once (8 MB at most). Split it into smaller files.', 'cloudchat' ) );
					return;
				}
				csv = text;
				fillColumns( [], '' );
			} catch ( error ) {
				C.showError( slot, error );
			}
		}

		function stalePreview() {
			runButton.disabled = true;
		}

		function fillColumns( columns, detectedPhone ) {
			const phone = phoneColumn.value || detectedPhone || '';
			let name = nameColumn.value;
			if ( ! name ) {
				name = columns.find( ( column ) => String( column ).trim().toLowerCase() === 'name' ) || '';
			}
			C.replaceChildren( phoneColumn, h( 'option', { value: '' }, __( 'Find it by its name', 'cloudchat' ) ), columns.map( ( column ) => h( 'option', { value: column }, column ) ) );
			C.replaceChildren( nameColumn, h( 'option', { value: '' }, __( 'None', 'cloudchat' ) ), columns.map( ( column ) => h( 'option', { value: column }, column ) ) );
			phoneColumn.value = columns.includes( phone ) ? phone : '';
			nameColumn.value = columns.includes( name ) ? name : '';
		}

		function needFile() {
			if ( csv === null ) {
				C.showNotice( slot, 'error', __( 'Choose a CSV file first.', 'cloudchat' ) );
				return true;
			}
			return false;
		}

		async function preview() {
			if ( needFile() ) {
				return;
			}
			C.setBusy( previewButton, true );
			C.replaceChildren( result );
			try {
				const answer = await C.api( 'contacts/import/preview', { method: 'POST', data: { csv, phone_column: phoneColumn.value, name_column: nameColumn.value } } );
				C.clearNotice( slot );
				fillColumns( Array.isArray( answer.columns ) ? answer.columns : [], answer.phone_column || '' );
				renderPreview( previewArea, answer );
				runButton.disabled = ! ( answer.valid > 0 ) || accounts.length === 0;
			} catch ( error ) {
				C.replaceChildren( previewArea );
				C.showError( slot, error );
			} finally {
				C.setBusy( previewButton, false );
			}
		}

		async function run() {
			if ( needFile() ) {
				return;
			}
			C.setBusy( runButton, true );
			try {
				const answer = await C.api( 'contacts/import', {
					method: 'POST',
					data: {
						csv,
						account_id: Number( account.value ),
						phone_column: phoneColumn.value,
						name_column: nameColumn.value,
						tags: parseTags( tags.value ),
						opted_in: optedIn.checked,
					},
				} );
				C.clearNotice( slot );
				C.replaceChildren( previewArea );
				renderImportResult( result, answer );
				onImported();
			} catch ( error ) {
				C.showError( slot, error );
				C.setBusy( runButton, false );
			}
		}

		return { element };
	}


	function renderPreview( area, answer ) {
		const rows = Array.isArray( answer.rows ) ? answer.rows : [];
		const valid = Number( answer.valid ) || 0;
		const invalid = Number( answer.invalid ) || 0;
		C.replaceChildren(
			area,
			h( 'p', { class: 'cloudchat-import-totals' },
				/* translators: %d: number of rows. */
				sprintf( _n( '%d row can be imported.', '%d rows can be imported.', valid, 'cloudchat' ), valid ),
				' ',
				/* translators: %d: number of rows. */
				invalid ? sprintf( _n( '%d row has a problem and will be left out.', '%d rows have a problem and will be left out.', invalid, 'cloudchat' ), invalid ) : ''
			),
			h(
				'table',
				{ class: 'widefat striped cloudchat-import-preview-table' },
				h( 'thead', null, h( 'tr', null,
					h( 'th', { scope: 'col' }, __( 'Line', 'cloudchat' ) ),
					h( 'th', { scope: 'col' }, __( 'Number', 'cloudchat' ) ),
					h( 'th', { scope: 'col' }, __( 'Name', 'cloudchat' ) ),
					h( 'th', { scope: 'col' }, __( 'Problem', 'cloudchat' ) )
				) ),
				h( 'tbody', null, rows.slice( 0, PREVIEW_ROWS_SHOWN ).map( ( row ) => h(
					'tr',
					{ class: row.error ? 'cloudchat-row-error' : null },
					h( 'td', null, String( row.line ) ),
					h( 'td', null, row.phone ? C.formatPhone( row.phone ) : '' ),
					h( 'td', null, row.name || '' ),
					h( 'td', null, row.error || '' )
				) ) )
			),
			/* translators: %d: number of rows shown. */
			rows.length > PREVIEW_ROWS_SHOWN ? h( 'p', { class: 'description' }, sprintf( __( 'Only the first %d rows are shown.', 'cloudchat' ), PREVIEW_ROWS_SHOWN ) ) : null
		);
	}

	function renderImportResult( area, answer ) {
		const created = Number( answer && answer.created ) || 0;
		const updated = Number( answer && answer.updated ) || 0;
		const errors = answer && Array.isArray( answer.errors ) ? answer.errors : [];
		C.replaceChildren(
			area,
			h( 'div', { class: 'notice notice-success inline' }, h( 'p', null,
				/* translators: 1: contacts created, 2: contacts updated. */
				sprintf( __( 'Import finished. Contacts created: %1$d. Updated: %2$d.', 'cloudchat' ), created, updated ),
				' ',
				/* translators: %d: number of rows left out. */
				errors.length ? sprintf( _n( '%d row was left out:', '%d rows were left out:', errors.length, 'cloudchat' ), errors.length ) : ''
			) ),
			errors.length
				? h( 'table', { class: 'widefat striped cloudchat-import-errors' },
					h( 'thead', null, h( 'tr', null, h( 'th', { scope: 'col' }, __( 'Line', 'cloudchat' ) ), h( 'th', { scope: 'col' }, __( 'Problem', 'cloudchat' ) ) ) ),
					h( 'tbody', null, errors.map( ( item ) => h( 'tr', { class: 'cloudchat-row-error' }, h( 'td', null, String( item.line ) ), h( 'td', null, item.error || '' ) ) ) ) )
				: null
		);
	}
}() );
