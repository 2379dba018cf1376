/**
 * CloudChat admin: helpers shared by every screen (window.CloudChat).
 *
 * Plain ES2019 with no build step. Screens build their DOM with h() and set
 * text through textContent only: message bodies and contact data are
 * untrusted customer input.
 */
( function () {
	'use strict';

	const { __, sprintf } = wp.i18n;
	const config = normalizeConfig( window.cloudchatAdmin || {} );

	/**
	 * wp_localize_script() turns top-level scalars into strings (true → "1",
	 * false → "", 3 → "3"): read them back as the booleans and numbers they were.
	 */
	function normalizeConfig( raw ) {
		const flag = ( value ) => value === true || value === 1 || value === '1' || value === 'true';
		const number = ( value, fallback ) => ( value === '' || value === null || value === undefined || ! isFinite( Number( value ) ) ? fallback : Number( value ) );
		return Object.assign( {}, raw, {
			canManage: flag( raw.canManage ),
			// Missing means unknown: no banner until a call fails.
			daemonReachable: raw.daemonReachable === undefined ? true : flag( raw.daemonReachable ),
			gmtOffset: number( raw.gmtOffset, null ),
			pollSeconds: number( raw.pollSeconds, 3 ),
			userId: number( raw.userId, 0 ),
		} );
	}

	// Properties that must be set on the element rather than as attributes,
	// and after the children exist (a select's value needs its options).
	const PROPERTIES = [ 'value', 'checked', 'selected', 'indeterminate' ];

	/**
	 * Builds an element.
	 *
	 * h( 'button', { class: 'button', type: 'button', onClick: save }, __( 'Save', 'cloudchat' ) )
	 *
	 * Attributes that are null, undefined or false are left out; `true` sets an
	 * empty attribute. `on<Event>` functions become listeners. Children may be
	 * nodes, strings, numbers, arrays of them, or null/false (skipped).
	 */
	function h( tag, attrs, ...children ) {
		const element = document.createElement( tag );
		const deferred = [];
		Object.keys( attrs || {} ).forEach( ( name ) => {
			const value = attrs[ name ];
			if ( value === null || value === undefined || value === false ) {
				return;
			}
			if ( name === 'class' || name === 'className' ) {
				element.className = Array.isArray( value ) ? value.filter( Boolean ).join( ' ' ) : value;
			} else if ( name.startsWith( 'on' ) && typeof value === 'function' ) {
				element.addEventListener( name.slice( 2 ).toLowerCase(), value );
			} else if ( name === 'style' && typeof value === 'object' ) {
				Object.assign( element.style, value );
			} else if ( PROPERTIES.includes( name ) ) {
				deferred.push( [ name, value ] );
			} else {
				element.setAttribute( name, value === true ? '' : String( value ) );
			}
		} );
		append( element, children );
		deferred.forEach( ( [ name, value ] ) => {
			element[ name ] = value;
		} );
		return element;
	}

	/** Appends children (nodes, text, nested arrays); null and false are skipped. */
	function append( parent, children ) {
		children.forEach( ( child ) => {
			if ( child === null || child === undefined || child === false ) {
				return;
			}
			if ( Array.isArray( child ) ) {
				append( parent, child );
			} else if ( child instanceof Node ) {
				parent.appendChild( child );
			} else {
				parent.appendChild( document.createTextNode( String( child ) ) );
			}
		} );
		return parent;
	}

	/** Empties an element and fills it with new children. */
	function replaceChildren( parent, ...children ) {
		while ( parent.firstChild ) {
			parent.removeChild( parent.firstChild );
		}
		return append( parent, children );
	}

	/* ---------------------------------------------------------------- */
	/* REST calls                                                         */
	/* ---------------------------------------------------------------- */

	/** A path under cloudchat/v1 with a query string of the non-empty parameters. */
	function path( route, query ) {
		const params = new URLSearchParams();
		Object.keys( query || {} ).forEach( ( key ) => {
			const value = query[ key ];
			if ( value !== null && value !== undefined && value !== '' ) {
				params.append( key, String( value ) );
			}
		} );
		const search = params.toString();
		return '/cloudchat/v1/' + route.replace( /^\/+/, '' ) + ( search ? '?' + search : '' );
	}

	/**
	 * Calls a CloudChat REST route: api( 'conversations', { query: { search } } ),
	 * api( 'conversations/4/read', { method: 'POST', data: {} } ).
	 *
	 * Rejects with the server's error ({code, message, data:{status}}). A 503
	 * from an unreachable daemon also raises the daemon banner.
	 */
	function api( route, options ) {
		const opts = options || {};
		const request = { path: path( route, opts.query ), method: opts.method || 'GET' };
		if ( opts.data !== undefined ) {
			request.data = opts.data;
		}
		return wp.apiFetch( request ).catch( ( error ) => {
			if ( isDaemonUnreachable( error ) ) {
				showDaemonBanner();
			}
			throw error;
		} );
	}

	function errorStatus( error ) {
		return error && error.data && typeof error.data.status === 'number' ? error.data.status : 0;
	}

	function isDaemonUnreachable( error ) {
		return !! error && error.code === 'cloudchat_daemon_unreachable' && ( errorStatus( error ) === 503 || errorStatus( error ) === 0 );
	}

	/** The text to show for a rejected call; for WordPress's "Invalid parameter(s)", what was wrong with each. */
	function errorMessage( error ) {
		const params = error && error.data && error.data.params && typeof error.data.params === 'object' ? error.data.params : null;
		const details = params ? Object.keys( params ).map( ( name ) => params[ name ] ).filter( ( text ) => typeof text === 'string' && text !== '' ) : [];
		if ( details.length ) {
			return details.join( ' ' );
		}
		if ( error && typeof error.message === 'string' && error.message !== '' ) {
			return error.message;
		}
		return __( 'Something went wrong. Reload the page and try again.', 'cloudchat' );
	}

	/* ---------------------------------------------------------------- */
	/* Notices                                                            */
	/* ---------------------------------------------------------------- */

	function appRoot() {
		return document.getElementById( 'cloudchat-app' );
	}

	/** Shows (once) the banner that says the daemon cannot be reached. */
	function showDaemonBanner() {
		const app = appRoot();
		if ( ! app || document.querySelector( '.cloudchat-daemon-banner' ) ) {
			return;
		}
		// `inline`: wp-admin moves other notices under the page title when the page loads, out of the app.
		const banner = h(
			'div',
			{ class: 'notice notice-warning inline cloudchat-daemon-banner', role: 'status' },
			h( 'p', null, h( 'strong', null, __( 'The CloudChat service cannot be reached.', 'cloudchat' ) ) ),
			h(
				'p',
				null,
				__( 'These screens show the data stored on this site. Replies you write are queued and will be sent when the service is back.', 'cloudchat' ),
				' ',
				settingsLink()
			)
		);
		app.insertBefore( banner, app.firstChild );
		watchForDaemon();
	}

	// While the banner shows, ask every few seconds whether the service is back.
	let daemonWatch = null;
	function watchForDaemon() {
		if ( daemonWatch !== null ) {
			return;
		}
		const check = async () => {
			let reachable = false;
			try {
				const answer = await wp.apiFetch( { path: path( 'daemon' ) } );
				reachable = !! ( answer && answer.reachable );
			} catch ( error ) {
				reachable = false;
			}
			if ( reachable ) {
				hideDaemonBanner();
			} else if ( daemonWatch !== null ) {
				daemonWatch = window.setTimeout( check, 5000 );
			}
		};
		daemonWatch = window.setTimeout( check, 5000 );
	}

	function settingsLink() {
		const text = __( 'The settings page has a connection test.', 'cloudchat' );
		if ( ! config.canManage || ! config.adminUrl ) {
			return text;
		}
		return h( 'a', { href: config.adminUrl + 'admin.php?page=cloudchat-settings' }, text );
	}

	/** Removes the daemon banner, once a call shows the service answers again. */
	function hideDaemonBanner() {
		document.querySelectorAll( '.cloudchat-daemon-banner' ).forEach( ( banner ) => banner.remove() );
		if ( daemonWatch !== null ) {
			window.clearTimeout( daemonWatch );
			daemonWatch = null;
		}
	}

	/**
	 * Puts a notice in a slot next to an action (replacing the previous one).
	 * kind: 'error', 'success', 'warning' or 'info'.
	 */
	function showNotice( slot, kind, ...content ) {
		if ( ! slot ) {
			return null;
		}
		const classes = [ 'notice', 'notice-' + kind, 'inline' ];
		if ( kind === 'error' ) {
			classes.push( 'cloudchat-error' );
		}
		const notice = h( 'div', { class: classes, role: kind === 'error' ? 'alert' : 'status' }, h( 'p', null, ...content ) );
		replaceChildren( slot, notice );
		return notice;
	}

	/** Shows the server's message for a failed action in the slot. */
	function showError( slot, error ) {
		return showNotice( slot, 'error', errorMessage( error ) );
	}

	function clearNotice( slot ) {
		if ( slot ) {
			replaceChildren( slot );
		}
	}

	/** A slot for notices near an action. */
	function noticeSlot( extraClass ) {
		return h( 'div', { class: [ 'cloudchat-notice-slot', extraClass ], 'aria-live': 'polite' } );
	}

	/* ---------------------------------------------------------------- */
	/* Times, in the site's time zone                                      */
	/* ---------------------------------------------------------------- */

	const locale = document.documentElement.lang || undefined;

	// The site's zone: an IANA name Intl understands, or else a fixed offset.
	const siteZone = ( function () {
		const name = typeof config.timezone === 'string' ? config.timezone : '';
		if ( name !== '' && ! /^[+-]\d/.test( name ) ) {
			try {
				new Intl.DateTimeFormat( 'en-US', { timeZone: name } );
				return { name, offsetMinutes: 0 };
			} catch ( unknownZone ) {
				// Fall through to the offset.
			}
		}
		return { name: null, offsetMinutes: offsetMinutes( name ) };
	}() );

	function offsetMinutes( text ) {
		if ( config.gmtOffset !== null ) {
			return Math.round( config.gmtOffset * 60 );
		}
		const match = /^([+-])(\d{1,2}):?(\d{2})?$/.exec( text || '' );
		if ( ! match ) {
			return 0;
		}
		const minutes = Number( match[ 2 ] ) * 60 + Number( match[ 3 ] || 0 );
		return match[ 1 ] === '-' ? -minutes : minutes;
	}

	/** A formatter in the site's zone; with a fixed offset, the date is shifted and formatted as UTC. */
	function zoneFormatter( options ) {
		const zone = siteZone.name || 'UTC';
		try {
			return new Intl.DateTimeFormat( locale, Object.assign( {}, options, { timeZone: zone } ) );
		} catch ( badLocale ) {
			return new Intl.DateTimeFormat( 'en-US', Object.assign( {}, options, { timeZone: zone } ) );
		}
	}

	function shifted( date ) {
		return siteZone.name ? date : new Date( date.getTime() + siteZone.offsetMinutes * 60000 );
	}

	function parseTime( iso ) {
		if ( ! iso ) {
			return null;
		}
		const date = new Date( iso );
		return isNaN( date.getTime() ) ? null : date;
	}

	const fullFormat = zoneFormatter( { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' } );
	const timeOnlyFormat = zoneFormatter( { hour: '2-digit', minute: '2-digit' } );
	const partsFormat = ( function () {
		const options = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: siteZone.name || 'UTC' };
		return new Intl.DateTimeFormat( 'en-US', options );
	}() );

	/** Year, month, day, hour and minute (numbers) of a date in the site's zone. */
	function siteParts( date ) {
		const parts = {};
		partsFormat.formatToParts( shifted( date ) ).forEach( ( part ) => {
			if ( part.type !== 'literal' ) {
				parts[ part.type ] = Number( part.value );
			}
		} );
		if ( parts.hour === 24 ) {
			parts.hour = 0;
		}
		return parts;
	}

	/**
	 * An ISO time (UTC) as the site shows it: "22 Nov 2026, 11:15".
	 * style 'short' gives only the hour for today's times (lists).
	 */
	function formatTime( iso, style ) {
		const date = parseTime( iso );
		if ( ! date ) {
			return '—';
		}
		if ( style === 'short' && sameSiteDay( date, new Date() ) ) {
			return timeOnlyFormat.format( shifted( date ) );
		}
		return fullFormat.format( shifted( date ) );
	}

	function sameSiteDay( a, b ) {
		const x = siteParts( a );
		const y = siteParts( b );
		return x.year === y.year && x.month === y.month && x.day === y.day;
	}

	/** A date as a datetime-local value ("YYYY-MM-DDTHH:MM") in the site's zone. */
	function toSiteInputValue( date ) {
		const p = siteParts( date );
		const two = ( n ) => String( n ).padStart( 2, '0' );
		return p.year + '-' + two( p.month ) + '-' + two( p.day ) + 'T' + two( p.hour ) + ':' + two( p.minute );
	}

	/** The site's zone as people read it: "Europe/Madrid" or "UTC+02:00". */
	function siteZoneLabel() {
		if ( siteZone.name ) {
			return siteZone.name;
		}
		const minutes = Math.abs( siteZone.offsetMinutes );
		const sign = siteZone.offsetMinutes < 0 ? '-' : '+';
		return 'UTC' + sign + String( Math.floor( minutes / 60 ) ).padStart( 2, '0' ) + ':' + String( minutes % 60 ).padStart( 2, '0' );
	}

	/* ---------------------------------------------------------------- */
	/* Polling                                                            */
	/* ---------------------------------------------------------------- */

	/**
	 * Runs task every `seconds` while the tab is visible, never two at once.
	 *
	 * const poll = poller( refresh, 3 ); poll.start(); … poll.now(); poll.stop();
	 *
	 * The next run is timed from the end of the previous one, so a slow server
	 * is not asked again before it answered. A hidden tab stops asking; it runs
	 * at once when it becomes visible again.
	 */
	function poller( task, seconds ) {
		const interval = Math.max( 1, Number( seconds ) || 3 ) * 1000;
		let timer = null;
		let running = false;
		let again = false;
		let stopped = true;

		async function run() {
			clearTimeout( timer );
			timer = null;
			if ( stopped ) {
				return;
			}
			if ( running ) {
				again = true;
				return;
			}
			if ( document.visibilityState === 'hidden' ) {
				return; // onVisible() starts it again.
			}
			running = true;
			try {
				await task();
			} catch ( error ) {
				// The task shows its own errors; a failed poll must not stop the next.
			} finally {
				running = false;
			}
			if ( again ) {
				again = false;
				run();
			} else {
				schedule();
			}
		}

		function schedule() {
			if ( ! stopped && timer === null && document.visibilityState !== 'hidden' ) {
				timer = setTimeout( run, interval );
			}
		}

		function onVisible() {
			if ( document.visibilityState === 'visible' && ! running ) {
				run();
			}
		}

		return {
			/** Starts polling; with immediately, the first run is now. */
			start( immediately ) {
				if ( ! stopped ) {
					return;
				}
				stopped = false;
				document.addEventListener( 'visibilitychange', onVisible );
				if ( immediately ) {
					run();
				} else {
					schedule();
				}
			},
			/** Runs now (or right after the run under way). */
			now() {
				run();
			},
			stop() {
				stopped = true;
				clearTimeout( timer );
				timer = null;
				document.removeEventListener( 'visibilitychange', onVisible );
			},
		};
	}

	/* ---------------------------------------------------------------- */
	/* Small things several screens use                                   */
	/* ---------------------------------------------------------------- */

	function debounce( fn, milliseconds ) {
		let timer = null;
		return function ( ...args ) {
			clearTimeout( timer );
			timer = setTimeout( () => fn.apply( this, args ), milliseconds );
		};
	}

	/** Reads a chosen file as text. */
	function readFileText( file ) {
		return new Promise( ( resolve, reject ) => {
			const reader = new FileReader();
			reader.onload = () => resolve( String( reader.result || '' ) );
			reader.onerror = () => reject( { message: sprintf( /* translators: %s: file name. */ __( 'The file %s could not be read.', 'cloudchat' ), file.name ) } );
			reader.readAsText( file );
		} );
	}

	/** A WhatsApp number (digits) as people write it: "+34 612…" stays as given, digits get a "+". */
	function formatPhone( number ) {
		const text = number === null || number === undefined ? '' : String( number );
		return /^\d+$/.test( text ) ? '+' + text : text;
	}

	/** Disables a button while its request runs, and marks it busy for screen readers. */
	function setBusy( button, busy ) {
		if ( ! button ) {
			return;
		}
		button.disabled = !! busy;
		if ( busy ) {
			button.setAttribute( 'aria-busy', 'true' );
		} else {
			button.removeAttribute( 'aria-busy' );
		}
	}

	/** The business numbers PHP passes (id, label, display_phone_number). */
	function accounts() {
		return Array.isArray( config.accounts ) ? config.accounts : [];
	}

	function accountLabel( account ) {
		if ( ! account ) {
			return '';
		}
		const number = account.display_phone_number ? formatPhone( account.display_phone_number ) : '';
		let label = account.label && number ? account.label + ' (' + number + ')' : account.label || number;
		if ( ! label ) {
			/* translators: %d: account id. */
			label = sprintf( __( 'Number #%d', 'cloudchat' ), account.id );
		}
		if ( account.state && account.state !== 'active' ) {
			/* translators: 1: business number, 2: its state, such as "halted". */
			label = sprintf( __( '%1$s — %2$s', 'cloudchat' ), label, account.state );
		}
		return label;
	}

	/** A safe link target: http(s) or a path on this site, else null (never javascript: or data:). */
	function safeUrl( url ) {
		if ( typeof url !== 'string' ) {
			return null;
		}
		return /^https?:\/\//i.test( url ) || /^\/(?!\/)/.test( url ) ? url : null;
	}

	/**
	 * The parameter names in a template text, in order of first use:
	 * "Hi {{1}}, your {{2}}" gives ['1', '2']; "Hi {{first_name}}" gives ['first_name'].
	 */
	function placeholders( text ) {
		const names = [];
		const pattern = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
		let match;
		while ( ( match = pattern.exec( typeof text === 'string' ? text : '' ) ) !== null ) {
			if ( ! names.includes( match[ 1 ] ) ) {
				names.push( match[ 1 ] );
			}
		}
		return names;
	}

	/** A template's component of a type (HEADER, BODY, FOOTER, BUTTONS), or null. */
	function templateComponent( template, type ) {
		const components = template && Array.isArray( template.components ) ? template.components : [];
		return components.find( ( component ) => component && String( component.type || '' ).toUpperCase() === type ) || null;
	}

	/** A template's body text, or ''. */
	function templateBodyText( template ) {
		const body = templateComponent( template, 'BODY' );
		return body && typeof body.text === 'string' ? body.text : '';
	}

	/** A row of a wp-admin form table: label, control and an optional description. */
	function formRow( id, label, control, ...description ) {
		return h(
			'tr',
			null,
			h( 'th', { scope: 'row' }, h( 'label', { for: id }, label ) ),
			h( 'td', null, control, description.some( Boolean ) ? h( 'p', { class: 'description' }, ...description ) : null )
		);
	}

	/**
	 * Runs a screen once the page is ready: mount( 'inbox', ( app ) => … ).
	 * Only the script of the page's screen does anything.
	 */
	function mount( screen, render ) {
		function start() {
			const app = appRoot();
			if ( ! app || app.getAttribute( 'data-screen' ) !== screen ) {
				return;
			}
			if ( config.daemonReachable === false ) {
				showDaemonBanner();
			}
			render( app );
		}
		if ( document.readyState === 'loading' ) {
			document.addEventListener( 'DOMContentLoaded', start );
		} else {
			start();
		}
	}

	window.CloudChat = {
		config,
		h,
		append,
		replaceChildren,
		api,
		errorMessage,
		errorStatus,
		isDaemonUnreachable,
		banner: showDaemonBanner,
		showDaemonBanner,
		hideDaemonBanner,
		showNotice,
		showError,
		clearNotice,
		noticeSlot,
		formatTime,
		toSiteInputValue,
		siteZoneLabel,
		poller,
		debounce,
		readFileText,
		formatPhone,
		setBusy,
		accounts,
		accountLabel,
		safeUrl,
		placeholders,
		templateComponent,
		templateBodyText,
		formRow,
		mount,
	};
}() );
