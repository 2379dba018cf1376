<?php
/**
 * Capabilities and the CloudChat Agent role.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * `cloudchat_manage` covers settings, templates, campaigns and data requests;
 * `cloudchat_agent` covers the inbox and contacts.
 */
final class CloudChat_Roles {

	const MANAGE = 'cloudchat_manage';
	const AGENT  = 'cloudchat_agent';
	const AGENT_ROLE = 'cloudchat_agent';

	/**
	 * On activation: administrators get both capabilities; the agent role is offered.
	 */
	public static function activate() {
		$administrator = get_role( 'administrator' );
		if ( $administrator ) {
			$administrator->add_cap( self::MANAGE );
			$administrator->add_cap( self::AGENT );
		}
		if ( ! get_role( self::AGENT_ROLE ) ) {
			add_role(
				self::AGENT_ROLE,
				__( 'CloudChat Agent', 'cloudchat' ),
				array(
					'read'      => true,
					self::AGENT => true,
				)
			);
		}
	}

	/**
	 * On uninstall: takes back everything activation gave.
	 */
	public static function remove() {
		remove_role( self::AGENT_ROLE );
		foreach ( wp_roles()->role_objects as $role ) {
			$role->remove_cap( self::MANAGE );
			$role->remove_cap( self::AGENT );
		}
	}
}
