/**
 * CloudChat Templates: the templates synced from Meta, and a sync on demand.
 * A row opens to show what the template says.
 */
( function () {
	'use strict';

	const { __, _n, sprintf } = wp.i18n;
	const C = window.CloudChat;
	const h = C.h;

	const COLUMNS = 7;

	C.mount( 'templates', ( app ) => {
		app.appendChild( createTemplates().element );
	} );

	function createTemplates() {
		const open = new Set(); // ids of the rows shown opened, kept across reloads
		const sync = h( 'button', { type: 'button', id: 'cloudchat-templates-sync', class: 'button button-primary', onClick: runSync }, __( 'Sync from Meta', 'cloudchat' ) );
		const syncSlot = C.noticeSlot();
		const listSlot = C.noticeSlot();
		const body = h( 'tbody', null, h( 'tr', { class: 'no-items' }, h( 'td', { colspan: String( COLUMNS ) }, __( 'Loading…', 'cloudchat' ) ) ) );
		const table = h(
			'table',
			{ class: 'widefat striped cloudchat-templates-table' },
			h( 'thead', null, h( 'tr', null,
				h( 'th', { scope: 'col' }, __( 'Name', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Language', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Category', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Status', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Quality', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Parameters', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Last synced', 'cloudchat' ) )
			) ),
			body
		);
		const element = h(
			'div',
			{ id: 'cloudchat-templates', class: 'cloudchat-templates' },
			h( 'div', { class: 'cloudchat-toolbar' }, sync, h( 'span', { class: 'description' }, __( 'Templates are written and approved in Meta\'s WhatsApp Manager; the CloudChat service copies them here every few minutes.', 'cloudchat' ) ) ),
			syncSlot,
			listSlot,
			table
		);
		reload();

		async function reload() {
			let answer;
			try {
				answer = await C.api( 'templates' );
			} catch ( error ) {
				C.showError( listSlot, error );
				return;
			}
			C.clearNotice( listSlot );
			render( answer && Array.isArray( answer.templates ) ? answer.templates : [] );
		}

		function render( templates ) {
			if ( templates.length === 0 ) {
				C.replaceChildren( body, h( 'tr', { class: 'no-items' }, h( 'td', { colspan: String( COLUMNS ) }, __( 'No templates yet. Create them in WhatsApp Manager, then sync.', 'cloudchat' ) ) ) );
				return;
			}
			C.replaceChildren( body, templates.map( ( template ) => templateRows( template, open ) ) );
		}

		async function runSync() {
			C.setBusy( sync, true );
			C.showNotice( syncSlot, 'info', __( 'Asking Meta for the templates…', 'cloudchat' ) );
			try {
				const answer = await C.api( 'templates/sync', { method: 'POST', data: {} } );
				C.showNotice( syncSlot, 'success', syncSummary( answer ) );
				await reload();
			} catch ( error ) {
				C.showError( syncSlot, error );
			} finally {
				C.setBusy( sync, false );
			}
		}

		return { element };
	}

	/** "Synced. WhatsApp Business Account 123: 12 listed, 9 approved, 1 removed." */
	function syncSummary( answer ) {
		const accounts = answer && Array.isArray( answer.synced ) ? answer.synced : [];
		if ( accounts.length === 0 ) {
			return __( 'Synced. No WhatsApp Business Account is connected yet.', 'cloudchat' );
		}
		const lines = accounts.map( ( item ) => sprintf(
			/* translators: 1: WhatsApp Business Account id, 2: templates listed, 3: approved, 4: removed. */
			__( 'WhatsApp Business Account %1$s: %2$d listed, %3$d approved, %4$d removed.', 'cloudchat' ),
			item.waba_id,
			Number( item.listed ) || 0,
			Number( item.approved ) || 0,
			Number( item.removed ) || 0
		) );
		return __( 'Synced.', 'cloudchat' ) + ' ' + lines.join( ' ' );
	}

	/** The template's row and, below it, its details row (hidden until opened). */
	function templateRows( template, open ) {
		const id = String( template.id );
		const details = h( 'tr', { class: 'cloudchat-template-details', hidden: ! open.has( id ) }, h( 'td', { colspan: String( COLUMNS ) }, templateDetails( template ) ) );
		const toggle = () => {
			const opening = details.hidden;
			details.hidden = ! opening;
			row.setAttribute( 'aria-expanded', opening ? 'true' : 'false' );
			if ( opening ) {
				open.add( id );
			} else {
				open.delete( id );
			}
		};
		const row = h(
			'tr',
			{
				class: 'cloudchat-template',
				'data-template-id': id,
				'aria-expanded': open.has( id ) ? 'true' : 'false',
				tabindex: '0',
				onClick: toggle,
				onKeydown: ( event ) => {
					if ( event.key === 'Enter' || event.key === ' ' ) {
						event.preventDefault();
						toggle();
					}
				},
			},
			h( 'td', { class: 'column-name' }, h( 'span', { class: 'cloudchat-disclosure', 'aria-hidden': 'true' } ), h( 'strong', null, template.name || '' ) ),
			h( 'td', null, template.language || '' ),
			h( 'td', null, template.category || '' ),
			h( 'td', null, statusPill( template.status ), template.status_reason && template.status_reason !== 'NONE' ? h( 'div', { class: 'cloudchat-muted' }, template.status_reason ) : null ),
			h( 'td', null, template.quality_score || '—' ),
			h( 'td', null, String( Number( template.parameters ) || 0 ) ),
			h( 'td', null, C.formatTime( template.synced_at ) )
		);
		return [ row, details ];
	}

	/** APPROVED green, PENDING grey, PAUSED/REJECTED/DISABLED red. */
	function statusPill( status ) {
		const value = String( status || '' ).toUpperCase();
		let tone = 'neutral';
		if ( value === 'APPROVED' ) {
			tone = 'good';
		} else if ( [ 'PAUSED', 'REJECTED', 'DISABLED' ].includes( value ) ) {
			tone = 'bad';
		}
		return h( 'span', { class: [ 'cloudchat-pill', 'is-' + tone, 'cloudchat-status-' + value.toLowerCase() ] }, value || '—' );
	}

	/** What the template says: header, body, footer and buttons, as text. */
	function templateDetails( template ) {
		const parts = [];
		const header = C.templateComponent( template, 'HEADER' );
		if ( header ) {
			const format = String( header.format || 'TEXT' ).toUpperCase();
			parts.push( detail( __( 'Header', 'cloudchat' ), format === 'TEXT' ? header.text || '' : sprintf( /* translators: %s: IMAGE, VIDEO, DOCUMENT or LOCATION. */ __( '[%s]', 'cloudchat' ), format ) ) );
		}
		parts.push( detail( __( 'Body', 'cloudchat' ), C.templateBodyText( template ) || '—' ) );
		const footer = C.templateComponent( template, 'FOOTER' );
		if ( footer && footer.text ) {
			parts.push( detail( __( 'Footer', 'cloudchat' ), footer.text ) );
		}
		const buttons = C.templateComponent( template, 'BUTTONS' );
		if ( buttons && Array.isArray( buttons.buttons ) && buttons.buttons.length ) {
			const lines = buttons.buttons.map( ( button ) => {
				const target = button.url || button.phone_number || '';
				return '[' + ( button.text || button.type || '' ) + ']' + ( target ? ' → ' + target : '' );
			} );
			parts.push( detail( _n( 'Button', 'Buttons', lines.length, 'cloudchat' ), lines.join( '\n' ) ) );
		}
		return h( 'dl', { class: 'cloudchat-template-body' }, parts );
	}

	function detail( label, text ) {
		return [ h( 'dt', null, label ), h( 'dd', null, text ) ];
	}
}() );
