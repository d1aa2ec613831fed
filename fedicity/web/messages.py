"""The one table of refusal messages: every code a domain error (fedicity.errors.DomainError)
or a web form raises, in English (the msgid) with its French translation in the catalog, and one
fallback for a code the table lacks. tests/web/test_messages.py holds every raised code to it."""

from __future__ import annotations

from quart import request

from fedicity.web.i18n import gettext, lazy

FALLBACK = lazy("This request could not be completed.")

MESSAGES: dict[str, str] = {
    # accounts and actors
    "username_invalid": lazy("A username has 1 to 30 characters: lower-case letters, digits, _."),
    "username_reserved": lazy("This username is reserved."),
    "username_taken": lazy("This username is already taken."),
    "email_invalid": lazy("This e-mail address does not look valid."),
    "email_taken": lazy("An account already uses this e-mail address."),
    "password_too_short": lazy("A password has at least 8 characters."),
    "password_too_long": lazy("This password is too long."),
    "password_common": lazy(
        "This password is among the most common ones, the first that attackers try. "
        "Choose another: a few unrelated words make a good one."
    ),
    "passwords_differ": lazy("The two passwords differ."),
    "display_name_too_long": lazy("A name has at most 100 characters."),
    "summary_too_long": lazy("A description has at most 5000 characters."),
    "login_failed": lazy("Wrong username or password."),
    "password_wrong": lazy("The current password is wrong."),
    "organization_kind_invalid": lazy("Choose a kind of organisation from the list."),
    "actor_missing": lazy("This account no longer exists."),
    # territories
    "territory_unknown": lazy("This place is not served by this instance."),
    "not_served": lazy("This place is not served by this instance."),
    "latitude_invalid": lazy(
        "The latitude is a number of degrees from -90 to 90, such as 48.8638."
    ),
    "longitude_invalid": lazy(
        "The longitude is a number of degrees from -180 to 180, such as 2.4485."
    ),
    "coordinates_incomplete": lazy("Give both the latitude and the longitude, or neither."),
    # points of interest (poi/)
    "place_kind_invalid": lazy("Choose a kind of place from the list."),
    "place_name_missing": lazy("A place needs a name."),
    "place_name_invalid": lazy("A place's name is one line of at most 200 characters."),
    "place_description_invalid": lazy("A description has at most 20000 characters."),
    "place_address_invalid": lazy(
        "Each part of the address is one line of at most 200 characters."
    ),
    "place_too_many_photos": lazy("A place has at most 4 photos."),
    "place_point_missing": lazy("Put the pin on the place: a place needs its point on the map."),
    "place_territory_missing": lazy("Say in which commune the place is."),
    "not_place_author": lazy("Only the author of this place or an admin can change it."),
    "place_deleted": lazy("This place was deleted."),
    # follows and posts
    "follow_failed": lazy("This account could not be found or followed."),
    "follow_self": lazy("You cannot follow yourself."),
    "follow_blocked": lazy("A block stands between you and this account."),
    "reply_blocked": lazy("The author of this post blocks you: you cannot answer it."),
    "block_self": lazy("You cannot block or mute yourself."),
    "block_unknown": lazy("This account is not known here."),
    "domain_invalid": lazy("Type a domain name, such as example.org."),
    "domain_own": lazy("You cannot block this server's own domain."),
    "not_found": lazy("This account could not be found."),
    "empty": lazy("A post needs some text."),
    "post_too_long": lazy("A post has at most 5000 characters."),
    "visibility_invalid": lazy("Choose who can see the post."),
    "not_author": lazy("Only the author can do this."),
    "not_boostable": lazy("Only public posts can be boosted."),
    # search, lookups of handles and addresses, remote follow
    "search_too_long": lazy("A search has at most 500 characters."),
    "search_no_words": lazy("Type at least one word: letters or digits."),
    "lookup_unknown_local": lazy("Nobody here has this handle."),
    "lookup_blocked": lazy("This address cannot be looked up from here."),
    "lookup_refused": lazy("This instance does not federate with that server."),
    "lookup_unreachable": lazy(
        "Nothing was found there: the server did not answer, or it has no such account or post."
    ),
    "lookup_unsupported": lazy(
        "This address holds no account, post or event that this site can show."
    ),
    "lookup_not_public": lazy("This post or event is not public."),
    "lookup_needs_login": lazy("Log in to look up accounts, posts and events on other servers."),
    "lookup_rate_limited": lazy(
        "You looked up many addresses in a short time; try again in a few minutes."
    ),
    "remote_follow_bad_handle": lazy("Type your handle as name@your.server."),
    "remote_follow_local_handle": lazy(
        "This handle is on this server: log in here and use the Follow button."
    ),
    "remote_follow_blocked": lazy("This server cannot be reached from here."),
    "remote_follow_refused": lazy("This instance does not federate with your server."),
    "remote_follow_unreachable": lazy(
        "Your server did not answer, or it does not know this handle."
    ),
    "remote_follow_no_template": lazy(
        "Your server does not say where to follow from: search for this account there instead."
    ),
    "remote_follow_rate_limited": lazy(
        "Too many attempts from your connection; try again in a few minutes."
    ),
    # events and media
    "title_missing": lazy("An event needs a title."),
    "title_too_long": lazy("The title is too long."),
    "description_too_long": lazy("The description is too long."),
    "time_invalid": lazy("Give a valid date and time."),
    "ends_before_start": lazy("An event cannot end before it starts."),
    "duration_too_long": lazy("An event lasts at most a year."),
    "timezone_invalid": lazy("Unknown time zone."),
    "category_invalid": lazy("Choose a category from the list."),
    "join_mode_invalid": lazy("Choose how people take part."),
    "status_invalid": lazy("Unknown status."),
    "capacity_invalid": lazy("The capacity is a positive number."),
    "external_url_missing": lazy("External registration needs a web address."),
    "online_url_invalid": lazy("The online address must start with https://."),
    "location_missing": lazy("An event needs a place or an online address."),
    "tag_invalid": lazy("Tags are single words."),
    "not_organizer": lazy("Only the organiser can change this event."),
    "deleted": lazy("This event was deleted."),
    "parent_invalid": lazy("A programme groups events of the same organiser."),
    "image_url_invalid": lazy("The image must be a web address (http:// or https://)."),
    "image_file_invalid": lazy("The picture must be a PNG, JPEG, GIF or WebP image."),
    "image_too_large": lazy("The picture is too large."),
    "image_too_many_pixels": lazy(
        "The picture has too many pixels: at most 7680 by 4320 (33 megapixels)."
    ),
    "upload_quota": lazy(
        "You have uploaded as many pictures as an account may in a day; try again tomorrow."
    ),
    "image_polyglot": lazy(
        "This file holds something else than a picture. Save the picture again as a plain PNG "
        "or JPEG and choose that file."
    ),
    "reset_link_invalid": lazy("This link no longer works: ask for a new one."),
    "account_closed": lazy("This account was closed."),
    "sole_admin": lazy(
        "You are the only admin of an organisation: name another admin before deleting "
        "your account."
    ),
    # proposals, amendments, comments and rooms
    "title_invalid": lazy("A proposal needs a title of at most 200 characters."),
    "too_long": lazy("This text is too long."),
    "options_invalid": lazy("A vote needs 2 to 20 distinct options."),
    "majority_invalid": lazy("The majority is a fraction between 0 and 1."),
    "electorate_invalid": lazy("Choose who may vote."),
    "electorate_unavailable": lazy("A members' vote needs one of your organisations."),
    "territory_required": lazy("A residents' vote needs a territory."),
    "not_allowed": lazy("You are not allowed to do this."),
    "wrong_state": lazy("This is not possible at this stage of the proposal."),
    "date_invalid": lazy("The end date must be in the future."),
    "not_open": lazy("The vote is not open."),
    "vote_closed": lazy("The vote has ended."),
    "option_invalid": lazy("This is not one of the options."),
    "not_eligible": lazy("You may not vote on this proposal."),
    "already_counted": lazy("Your vote was already counted."),
    "change_not_allowed": lazy("Votes cannot be changed on this proposal."),
    "stance_invalid": lazy("Choose for, neutral or against."),
    "comment_invalid": lazy("A comment needs some text."),
    "unchanged": lazy("Nothing was changed."),
    "answer_invalid": lazy("An official answer has 1 to 20000 characters."),
    "proposal_unknown": lazy("No such proposal."),
    "not_amendable": lazy("Amendments are only possible during the amendment period."),
    "amendment_invalid": lazy("An amendment needs some text."),
    "amendment_decided": lazy("This amendment was already decided."),
    "amendment_unknown": lazy("No such amendment."),
    "organization_invalid": lazy(
        "You may only write in the name of an organisation you administer."
    ),
    "attachment_invalid": lazy("A link is an http or https address followed by its name."),
    "attachments_too_many": lazy("A proposal has at most 10 links."),
    "room_archived": lazy("This room is archived."),
    "room_members_only": lazy("This room is open to the organisation's members only."),
    "room_territory": lazy("This place is outside the room's territory."),
    "room_unknown": lazy("No such room."),
    "room_owner": lazy("A room belongs to one of your organisations or to a served territory."),
    "room_name_invalid": lazy("A room needs a name of at most 200 characters."),
    "room_status_invalid": lazy("A room is open or archived."),
    "ballot_invalid": lazy("Choose a secret ballot or a nominal vote."),
    "trusted_domains_invalid": lazy(
        "Type at most 50 server names such as example.org, one per line."
    ),
    # resolutions and actions
    "text_invalid": lazy("A text may not hold invisible control characters."),
    "action_title_invalid": lazy("An action needs a title of at most 200 characters."),
    "link_unsafe": lazy("Links must be web addresses (http:// or https://)."),
    "action_date_invalid": lazy("Dates are between 1970 and 2200, such as 2026-06-30."),
    "action_dates_invalid": lazy("An action cannot end before it starts."),
    "action_status_invalid": lazy("An action is to do, in progress, done or abandoned."),
    "action_unknown": lazy("No such action."),
    "action_finished": lazy("This action is finished."),
    "already_taken": lazy("You already take part in this action."),
    "not_taken": lazy("You do not take part in this action."),
    "too_many": lazy("There are too many already."),
    "resolution_unknown": lazy("This resolution is not of this room."),
    "resolution_not_adopted": lazy("Only an adopted resolution leads to actions."),
    # domain policies and block lists
    "policy_action_invalid": lazy("Choose a policy from the list."),
    "policy_empty": lazy("Without suspension or silence, reject media or reports (or both)."),
    "comment_too_long": lazy("A public comment has at most 1000 characters."),
    "reason_too_long": lazy("A private comment has at most 5000 characters."),
    "blocklist_url_invalid": lazy("The list must be a web address (http:// or https://)."),
    "blocklist_exists": lazy("This list is already subscribed."),
    "csv_missing": lazy("Choose a CSV file."),
    "csv_too_large": lazy("This file is too large (at most 1 MiB)."),
    "csv_not_utf8": lazy("This file is not UTF-8 text."),
    # organisations and memberships
    "not_admin": lazy("Only the organisation's admins can do this."),
    "not_member": lazy("Only members can do this."),
    "last_admin": lazy("The last admin cannot leave or be demoted."),
    "invitation_only": lazy("This organisation admits invited people only."),
    "not_invited": lazy("There is no invitation for you."),
    "no_request": lazy("There is no pending request from this person."),
    "already_member": lazy("This person is already a member."),
    "lookup_failed": lazy("This account could not be found or followed."),
    "siren_invalid": lazy("A SIREN is 9 digits with a valid checksum."),
    "rna_invalid": lazy("An RNA number is W followed by 9 digits."),
    "identifier_kind_invalid": lazy("An official identifier is a SIREN or an RNA number."),
    "not_an_organization": lazy("This account is not an organisation."),
    "not_a_person": lazy("Only a person can create an organisation."),
    "mode_invalid": lazy("Membership is open, on approval or by invitation."),
    "self": lazy("An organisation cannot join itself."),
    "role_invalid": lazy("Choose a role from the list."),
    "roles_invalid": lazy("At most 5 free roles of 40 characters each."),
    # projects
    "project_by_person": lazy("Only a person can create a project."),
    "not_a_project": lazy("This account is not a project."),
    "maturity_invalid": lazy("Choose a maturity from the list."),
    "project_date_invalid": lazy("A date is written as year-month-day, such as 2026-03-01."),
    "project_date_out_of_range": lazy("A project's dates are between the years 1900 and 2200."),
    "project_ends_before_start": lazy("A project cannot end before it starts."),
    "license_too_long": lazy("A licence has at most 500 characters."),
    "license_url_invalid": lazy("A licence link is a web address (https://...)."),
    "parent_organization_unknown": lazy("There is no organisation by this name here."),
    "parent_organization_not_admin": lazy(
        "Only an organisation's admins can put a project under it."
    ),
    "parent_project_unknown": lazy("There is no project by this name here."),
    "parent_cycle": lazy("A project cannot be part of itself or of one of its sub-projects."),
    # rate limits
    "posting_too_fast": lazy(
        "You have published a lot in a short time. Wait a few minutes, then send it again: "
        "what you typed is kept below."
    ),
    # content policies
    "content_term_invalid": lazy("A term has 1 to 100 characters, with no control character."),
    "content_hashtag_invalid": lazy("A hashtag is made of letters, digits and _."),
    "content_too_many_terms": lazy("At most 500 terms."),
    "content_amount_invalid": lazy("Type a whole number within the bounds shown."),
    "content_action_invalid": lazy("Choose to reject or to flag."),
    "content_policy_unknown": lazy("There is no such content rule."),
    "content_hold_unknown": lazy("No held activity has this number."),
    # reports and moderation
    "account_suspended": lazy("This account is suspended."),
    "login_suspended": lazy(
        "This account is suspended by the instance's moderators: you cannot log in."
    ),
    "report_kind": lazy("One reports a post, an event, a proposal, a comment or an account."),
    "report_category": lazy("Choose a category from the list."),
    "report_comment_long": lazy("A comment has at most 1000 characters."),
    "report_targets": lazy("This content cannot be reported: it is unknown here."),
    "report_rate": lazy("You have sent many reports lately; try again in an hour."),
    "report_closed": lazy("This report was already handled."),
    "report_not_remote": lazy("Only a report about another server's account is forwarded."),
    "not_suspendable": lazy("Only people and organisations can be suspended."),
    "owner_missing": lazy("The owner of this content is gone."),
    "not_removable": lazy("A proposal or an account is not removed this way."),
    "nothing_to_remove": lazy("Nothing in this report can be removed any more."),
    "nothing_to_hide": lazy("Nothing in this report is on a territory's pages."),
    "not_an_account": lazy("Only people and organisations are moderated."),
    "unknown_account": lazy("No such account is known here."),
    "already_suspended": lazy("This account is suspended already."),
    "not_remote": lazy("This report is about a local account."),
    "report_forwarded": lazy("This report was forwarded already."),
    "comoderation_unknown": lazy("No such co-moderation vote."),
    "comoderation_not_yours": lazy("This co-moderation vote is for other moderators."),
    "comoderation_settled": lazy("This co-moderation vote is settled already."),
    "moderator_unknown": lazy("No such account, or no territory of that level with that code."),
    # listings: needs and offers, jobs, classifieds (listings/service.py, parse.py)
    "listing_kind_invalid": lazy("Choose a kind of listing: ressource, job or classified."),
    "listing_section_invalid": lazy("Choose a section this kind of listing has."),
    "listing_category_invalid": lazy("Choose a category this kind of listing has."),
    "text_nul": lazy("The text holds a character that cannot be stored (NUL)."),
    "price_invalid": lazy("A price is an amount from 0 (free), such as 15 or 12,50."),
    "price_too_high": lazy("This price is too high."),
    "currency_invalid": lazy("Choose a currency from the list."),
    "expiry_invalid": lazy("A listing expires on a day to come."),
    "expiry_too_far": lazy("A listing is valid for at most a year."),
    "territory_missing": lazy("Say in which commune the listing is."),
    "not_listing_author": lazy("Only its author, or the organisation's admins, can do this."),
    "listing_deleted": lazy("This listing was deleted."),
    "listing_expired": lazy("This listing has expired."),
    "message_missing": lazy("Write a message."),
    "message_too_long": lazy("A message has at most 2000 characters."),
    "author_unknown": lazy("The author of this listing is not known here."),
    "contact_self": lazy("This is your own listing."),
    # followed calendars (imports/feeds.py)
    "feed_url_invalid": lazy("The feed's address must be a web address (http or https)."),
    "feed_format_invalid": lazy("Choose a format: automatic, iCalendar or OpenAgenda JSON."),
    "feed_owner_invalid": lazy("Events are attributed to a local person or organisation."),
    "feed_owner_unknown": lazy("No local account has this name."),
    "feed_exists": lazy("This feed is already followed for this account."),
    "feed_unknown": lazy("This feed is not followed."),
    "feed_busy": lazy("This feed is being fetched; try again in a moment."),
    "mapping_field_unknown": lazy("The mapping names a field that does not exist."),
    "mapping_column_unknown": lazy("The mapping names a column that is not in the file."),
    "mapping_name_missing": lazy("Choose the column that gives the organisations' names."),
    "username_exhausted": lazy("No free username is left for this name."),
    # personal API tokens (accounts/api_tokens.py)
    "token_name_missing": lazy("Give the token a name, to know later what uses it."),
    "token_name_invalid": lazy("A token's name has at most 100 characters."),
    "too_many_tokens": lazy("You have 20 tokens: revoke one you no longer use first."),
    # needs of organisations and projects, offers to help (needs/service.py)
    "need_title_missing": lazy("Say what is needed: a need has a title."),
    "need_title_too_long": lazy("A need's title has at most 200 characters."),
    "need_description_too_long": lazy("A need's description has at most 10000 characters."),
    "need_unsafe_link": lazy("Links in a description are web (http, https) or e-mail addresses."),
    "need_control_characters": lazy("The text holds invisible control characters."),
    "need_kind_invalid": lazy("Choose a kind of need from the list."),
    "need_quantity_invalid": lazy("A quantity is a whole number from 1 to 1000000."),
    "need_date_invalid": lazy("A date is a day between the years 2000 and 2100."),
    "need_dates_reversed": lazy("A need cannot end before it starts."),
    "need_state_invalid": lazy("A need is open, fulfilled or closed."),
    "need_not_found": lazy("This need does not exist or was deleted."),
    "need_not_open": lazy("This need no longer takes offers to help."),
    "offer_not_person": lazy("People offer to help, not organisations."),
    "offer_exists": lazy("You already offered to help with this need."),
    "offer_missing": lazy("There is no such offer to help."),
    "offer_not_pending": lazy("This offer was already answered or withdrawn."),
    "offer_too_long": lazy("A message has at most 2000 characters."),
}


def message(code: str) -> str:
    """The message of a refusal code in the request's language; the fallback for an unknown one."""
    return gettext(MESSAGES.get(code, FALLBACK))


def query_error() -> str | None:
    """The message of the `?error=` code a form's redirect carried; None when there is none."""
    code = request.args.get("error", "")
    return message(code) if code else None
