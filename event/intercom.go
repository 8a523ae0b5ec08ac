package event

import (
	"bytes"
	"cmp"
	"encoding/json"
	"reflect"
)

// An IntercomNotification is an Intercom app webhook: the envelope that
// carries every topic, with the item the topic is about in Data.Item.
//
// The typed accessors (Conversation, Contact, Ticket, Company, Admin,
// ContactTag, DataEvent, Visitor, Ping) return the item as its kind, or nil when it
// is another kind; Item returns the raw item for the kinds without one
// (articles, calls, activity logs, legacy API 1.x users and so on).
//
// Order notifications by CreatedAt: Intercom does not deliver in order.
// Deduplicate on ID: Intercom resends notifications it timed out on.
type IntercomNotification struct {
	Type             string          `json:"type"` // always "notification_event"
	ID               ID              `json:"id"`   // notif_<uuid>; "" for ping
	Topic            string          `json:"topic"`
	AppID            string          `json:"app_id"` // the workspace the notification is about
	CreatedAt        Time            `json:"created_at"`
	FirstSentAt      Time            `json:"first_sent_at"`
	DeliveryAttempts int             `json:"delivery_attempts"` // 1 on the first attempt
	DeliveryStatus   string          `json:"delivery_status"`   // "" for ping
	DeliveredAt      Time            `json:"delivered_at"`      // observed zero
	Self             string          `json:"self"`
	Links            json.RawMessage `json:"links"`
	Data             IntercomData    `json:"data"`

	item      any    // the typed item Parse decoded from data.item
	itemType  string // ItemType, as Parse found it
	parsed    bool   // item and itemType are set
	raw       []byte
	fieldErrs []error
}

// IntercomData is the envelope's data object.
type IntercomData struct {
	Type string `json:"type"` // "notification_event_data", sometimes absent
	// Item is data.item as sent; read it through the notification's typed
	// accessors, or Item.
	Item json.RawMessage `json:"item"`
}

// EventType returns the topic, such as "conversation.user.replied".
func (n *IntercomNotification) EventType() string { return n.Topic }

// RawJSON returns the exact bytes n was decoded from.
func (n *IntercomNotification) RawJSON() []byte { return n.raw }

// FieldErrors reports the fields Parse left zero because their JSON type
// was unexpected, such as "oops" for a conversation's statistics; each is
// a *json.UnmarshalTypeError naming the field. The notification is still
// delivered: one odd field in an item should not cost the event.
func (n *IntercomNotification) FieldErrors() []error { return n.fieldErrs }

// ItemType returns the kind of the item, data.item.type: one of the Item
// constants or a kind this package does not type, such as "article".
func (n *IntercomNotification) ItemType() string {
	if n.parsed {
		return n.itemType
	}
	return itemTypeOf(itemShapeOf(n.Data.Item))
}

// Item returns the raw JSON of data.item, or nil if there is none, for the
// item kinds without a typed accessor and for fields this package does not
// know.
func (n *IntercomNotification) Item() json.RawMessage {
	if len(n.Data.Item) == 0 || string(n.Data.Item) == "null" {
		return nil
	}
	return n.Data.Item
}

// typedItem returns the item Parse decoded, or decodes it for a
// notification decoded some other way, such as with json.Unmarshal.
func (n *IntercomNotification) typedItem() any {
	if n.parsed {
		return n.item
	}
	it := itemShapeOf(n.Data.Item)
	k := it.kind()
	if k == nil {
		return nil
	}
	v, _ := k.decodeItem(lenient, n.Data.Item)
	return v
}

// Conversation returns the item if it is a conversation, else nil.
func (n *IntercomNotification) Conversation() *IntercomConversation {
	v, _ := n.typedItem().(*IntercomConversation)
	return v
}

// Contact returns the item if it is a contact, else nil.
func (n *IntercomNotification) Contact() *IntercomContact {
	v, _ := n.typedItem().(*IntercomContact)
	return v
}

// Ticket returns the item if it is a ticket, wherever the API version
// nests it (data.item for older apps, data.item.ticket for ticket.closed
// from API 2.15), else nil.
func (n *IntercomNotification) Ticket() *IntercomTicket {
	v, _ := n.typedItem().(*IntercomTicket)
	return v
}

// Company returns the item if it is a company, else nil.
func (n *IntercomNotification) Company() *IntercomCompany {
	v, _ := n.typedItem().(*IntercomCompany)
	return v
}

// Admin returns the item if it is a teammate (an admin), else nil.
func (n *IntercomNotification) Admin() *IntercomAdmin {
	v, _ := n.typedItem().(*IntercomAdmin)
	return v
}

// ContactTag returns the item if it is a tag added to or removed from a
// contact, else nil.
func (n *IntercomNotification) ContactTag() *IntercomContactTag {
	v, _ := n.typedItem().(*IntercomContactTag)
	return v
}

// DataEvent returns the item if it is a data event (topic event.created),
// else nil.
func (n *IntercomNotification) DataEvent() *IntercomDataEvent {
	v, _ := n.typedItem().(*IntercomDataEvent)
	return v
}

// Visitor returns the item if it is a visitor (topic visitor.signed_up),
// else nil.
func (n *IntercomNotification) Visitor() *IntercomVisitor {
	v, _ := n.typedItem().(*IntercomVisitor)
	return v
}

// Ping returns the item if it is a ping, which Intercom sends when a
// subscription is set up, else nil.
func (n *IntercomNotification) Ping() *IntercomPing {
	v, _ := n.typedItem().(*IntercomPing)
	return v
}

// Intercom topics: the EventType of an *IntercomNotification. The list is
// not closed: Intercom adds topics, and any topic decodes.
const (
	// Conversations; the item is a conversation.
	TopicConversationUserCreated        = "conversation.user.created"
	TopicConversationUserReplied        = "conversation.user.replied"
	TopicConversationAdminReplied       = "conversation.admin.replied"
	TopicConversationAdminAssigned      = "conversation.admin.assigned"
	TopicConversationAdminClosed        = "conversation.admin.closed"
	TopicConversationAdminOpened        = "conversation.admin.opened"
	TopicConversationAdminSnoozed       = "conversation.admin.snoozed"
	TopicConversationAdminUnsnoozed     = "conversation.admin.unsnoozed"
	TopicConversationAdminNoted         = "conversation.admin.noted"
	TopicConversationAdminSingleCreated = "conversation.admin.single.created"
	TopicConversationAdminOpenAssigned  = "conversation.admin.open.assigned"
	TopicConversationOperatorReplied    = "conversation.operator.replied"
	TopicConversationRead               = "conversation.read"
	TopicConversationDeleted            = "conversation.deleted"
	TopicConversationPriorityUpdated    = "conversation.priority.updated"
	TopicConversationRatingAdded        = "conversation.rating.added"
	TopicConversationContactAttached    = "conversation.contact.attached"
	TopicConversationContactDetached    = "conversation.contact.detached"
	// Conversation parts.
	TopicConversationPartRedacted   = "conversation_part.redacted"
	TopicConversationPartTagCreated = "conversation_part.tag.created"
	// Contacts; the item is a contact.
	TopicContactUserCreated    = "contact.user.created"
	TopicContactUserUpdated    = "contact.user.updated"
	TopicContactLeadCreated    = "contact.lead.created"
	TopicContactLeadUpdated    = "contact.lead.updated"
	TopicContactLeadSignedUp   = "contact.lead.signed_up"
	TopicContactLeadAddedEmail = "contact.lead.added_email"
	TopicContactArchived       = "contact.archived"
	TopicContactUnarchive      = "contact.unarchive"
	TopicContactDeleted        = "contact.deleted"
	TopicContactMerged         = "contact.merged"
	TopicContactEmailUpdated   = "contact.email.updated"
	// Contact tags; the item is a contact_tag.
	TopicContactUserTagCreated = "contact.user.tag.created"
	TopicContactUserTagDeleted = "contact.user.tag.deleted"
	TopicContactLeadTagCreated = "contact.lead.tag.created"
	TopicContactLeadTagDeleted = "contact.lead.tag.deleted"
	// Subscriptions.
	TopicContactSubscribed   = "contact.subscribed"
	TopicContactUnsubscribed = "contact.unsubscribed"
	TopicGranularSubscribe   = "granular.subscribe"
	TopicGranularUnsubscribe = "granular.unsubscribe"
	// Companies; the item is a company.
	TopicCompanyCreated         = "company.created"
	TopicCompanyUpdated         = "company.updated"
	TopicCompanyDeleted         = "company.deleted"
	TopicCompanyContactAttached = "company.contact.attached"
	TopicCompanyContactDetached = "company.contact.detached"
	// Tickets; the item is a ticket (nested at data.item.ticket for ticket.closed from API 2.15).
	TopicTicketCreated          = "ticket.created"
	TopicTicketStateUpdated     = "ticket.state.updated"
	TopicTicketAdminAssigned    = "ticket.admin.assigned"
	TopicTicketTeamAssigned     = "ticket.team.assigned"
	TopicTicketNoteCreated      = "ticket.note.created"
	TopicTicketAdminReplied     = "ticket.admin.replied"
	TopicTicketContactReplied   = "ticket.contact.replied"
	TopicTicketContactAttached  = "ticket.contact.attached"
	TopicTicketContactDetached  = "ticket.contact.detached"
	TopicTicketAttributeUpdated = "ticket.attribute.updated"
	TopicTicketRatingProvided   = "ticket.rating.provided"
	TopicTicketClosed           = "ticket.closed"
	TopicTicketResolved         = "ticket.resolved"
	// Teammates; the item is an admin, or an admin_activity_log_event.
	TopicAdminAddedToWorkspace        = "admin.added_to_workspace"
	TopicAdminRemovedFromWorkspace    = "admin.removed_from_workspace"
	TopicAdminAwayModeUpdated         = "admin.away_mode_updated"
	TopicAdminLoggedIn                = "admin.logged_in"
	TopicAdminLoggedOut               = "admin.logged_out"
	TopicAdminActivityLogEventCreated = "admin.activity_log_event.created"
	// Other topics: event.created's item is a data event (DataEvent),
	// visitor.signed_up's a visitor (Visitor); the others' are kept raw.
	TopicEventCreated             = "event.created"
	TopicVisitorSignedUp          = "visitor.signed_up"
	TopicJobCompleted             = "job.completed"
	TopicAPIRequestCompleted      = "api.request.completed"
	TopicContentStatSeriesWebhook = "content_stat.series.webhook"
	// Legacy API 1.x topics: a user item is a contact (Contact serves
	// it); other items are kept raw.
	TopicUserCreated    = "user.created"
	TopicUserDeleted    = "user.deleted"
	TopicUserTagCreated = "user.tag.created"
	// The topic Intercom sends to check a subscription; the item is a ping.
	TopicPing = "ping"
)

// Kinds of Intercom items (data.item.type) with a typed accessor.
const (
	ItemConversation = "conversation"
	ItemContact      = "contact"
	// ItemUser is a contact as the older API generation names it; Contact
	// serves it.
	ItemUser       = "user"
	ItemTicket     = "ticket"
	ItemCompany    = "company"
	ItemAdmin      = "admin"
	ItemContactTag = "contact_tag"
	ItemEvent      = "event"
	ItemVisitor    = "visitor"
	ItemPing       = "ping"
)

// Attributes are an item's attributes as the workspace defined them:
// custom attributes, a ticket's attributes, a data event's metadata. A
// value is what encoding/json decodes into an any, except that a number,
// at any depth, is a json.Number holding its digits as sent: attributes
// hold account numbers and order ids past 2^53, which a float64 would
// silently round.
type Attributes map[string]any

// UnmarshalJSON decodes a JSON object, adding its members to a as
// encoding/json adds them to a map; null sets a to nil, as it does a map.
// Any other value yields a *json.UnmarshalTypeError.
func (a *Attributes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = nil
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return &json.UnmarshalTypeError{Value: valueKind(b), Type: reflect.TypeFor[Attributes]()}
	}
	if *a == nil {
		*a = Attributes{}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode((*map[string]any)(a))
}

// intercomContactList is the contacts object of a conversation or ticket.
type intercomContactList struct {
	Type     string               `json:"type"`
	Contacts []IntercomContactRef `json:"contacts"`
}

// intercomTagList is the tags object of an item. Conversations and
// companies list tags under "tags", contacts under "data"; all returns
// either.
type intercomTagList struct {
	Type string        `json:"type"`
	Tags []IntercomTag `json:"tags"`
	Data []IntercomTag `json:"data"`
}

// all returns the tags, whichever key they came under.
func (l *intercomTagList) all() []IntercomTag {
	if l == nil {
		return nil
	}
	if l.Tags != nil {
		return l.Tags
	}
	return l.Data
}

// intercomPartList is a conversation's conversation_parts object. Webhooks
// carry only the part that triggered the notification; TotalCount counts
// them all.
type intercomPartList struct {
	Type       string                     `json:"type"`
	Parts      []IntercomConversationPart `json:"conversation_parts"`
	TotalCount int                        `json:"total_count"`
}

// An IntercomPriority is a conversation's priority. Up to API 2.15 a
// conversation is marked as priority or not (PriorityMarked,
// PriorityNotMarked); later versions use a five-step scale. It is an open
// set: unknown values are kept as sent.
type IntercomPriority string

// Conversation priorities, in both vocabularies.
const (
	PriorityMarked    IntercomPriority = "priority"     // marked as priority (API 2.15 and before)
	PriorityNotMarked IntercomPriority = "not_priority" // not marked (API 2.15 and before)
	PriorityNone      IntercomPriority = "none"
	PriorityLow       IntercomPriority = "low"
	PriorityMedium    IntercomPriority = "medium"
	PriorityHigh      IntercomPriority = "high"
	PriorityUrgent    IntercomPriority = "urgent"
)

// An IntercomConversationState is a conversation's state. It is an open
// set: unknown values are kept as sent.
type IntercomConversationState string

// Conversation states.
const (
	StateOpen    IntercomConversationState = "open"
	StateClosed  IntercomConversationState = "closed"
	StateSnoozed IntercomConversationState = "snoozed"
)

// An IntercomRole is a contact's role. It is an open set: unknown values
// are kept as sent.
type IntercomRole string

// Contact roles.
const (
	RoleUser IntercomRole = "user"
	RoleLead IntercomRole = "lead"
)

// An IntercomConversation is a conversation item.
type IntercomConversation struct {
	ID               ID                         `json:"id"`
	CreatedAt        Time                       `json:"created_at"`
	UpdatedAt        Time                       `json:"updated_at"`
	WaitingSince     Time                       `json:"waiting_since"`
	SnoozedUntil     Time                       `json:"snoozed_until"`
	Title            string                     `json:"title"`
	State            IntercomConversationState  `json:"state"`
	Open             bool                       `json:"open"`
	Read             bool                       `json:"read"`
	Priority         IntercomPriority           `json:"priority"`          // either vocabulary
	AdminAssigneeID  ID                         `json:"admin_assignee_id"` // "" when unassigned
	TeamAssigneeID   ID                         `json:"team_assignee_id"`
	Source           IntercomSource             `json:"source"`
	Contacts         []IntercomContactRef       `json:"contacts"`
	Tags             []IntercomTag              `json:"tags"`
	Statistics       IntercomStatistics         `json:"statistics"`
	Parts            []IntercomConversationPart `json:"conversation_parts"` // only the part that triggered the notification
	PartsTotal       int                        `json:"parts_total"`
	CustomAttributes Attributes                 `json:"custom_attributes"`
	Deleted          bool                       `json:"deleted"` // the item is the stub of conversation.deleted
}

// IntercomSource is the message that started a conversation.
type IntercomSource struct {
	Type        string         `json:"type"`
	ID          ID             `json:"id"`
	DeliveredAs string         `json:"delivered_as"`
	Subject     string         `json:"subject"`
	Body        string         `json:"body"` // HTML
	Author      IntercomAuthor `json:"author"`
	URL         string         `json:"url"`
}

// IntercomAuthor is who wrote a message or part: an admin, user, lead,
// bot or team.
type IntercomAuthor struct {
	Type  string `json:"type"`
	ID    ID     `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// IntercomContactRef refers to a contact from a conversation or ticket.
// Type is "contact" in the newer API; a conversation of the older API
// names its one contact in user, which maps to a ref of Type "user" or
// "lead" whose ExternalID is the user_id and which carries Name and Email.
type IntercomContactRef struct {
	Type       string `json:"type"`
	ID         ID     `json:"id"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
}

// IntercomTag is a tag on a conversation, contact or company.
type IntercomTag struct {
	Type string `json:"type"`
	ID   ID     `json:"id"`
	Name string `json:"name"`
}

// IntercomStatistics are a conversation's response metrics. Durations are
// seconds; the *At fields arrive as ISO 8601 strings in real payloads.
type IntercomStatistics struct {
	TimeToAssignment           int  `json:"time_to_assignment"`
	TimeToAdminReply           int  `json:"time_to_admin_reply"`
	TimeToFirstClose           int  `json:"time_to_first_close"`
	TimeToLastClose            int  `json:"time_to_last_close"`
	MedianTimeToReply          int  `json:"median_time_to_reply"`
	FirstContactReplyAt        Time `json:"first_contact_reply_at"`
	FirstAssignmentAt          Time `json:"first_assignment_at"`
	FirstAdminReplyAt          Time `json:"first_admin_reply_at"`
	FirstCloseAt               Time `json:"first_close_at"`
	LastAssignmentAt           Time `json:"last_assignment_at"`
	LastAssignmentAdminReplyAt Time `json:"last_assignment_admin_reply_at"`
	LastContactReplyAt         Time `json:"last_contact_reply_at"`
	LastAdminReplyAt           Time `json:"last_admin_reply_at"`
	LastCloseAt                Time `json:"last_close_at"`
	LastClosedByID             ID   `json:"last_closed_by_id"`
	CountReopens               int  `json:"count_reopens"`
	CountAssignments           int  `json:"count_assignments"`
	CountConversationParts     int  `json:"count_conversation_parts"`
}

// IntercomConversationPart is one message, note or action in a conversation.
type IntercomConversationPart struct {
	Type       string          `json:"type"`
	ID         ID              `json:"id"`
	PartType   string          `json:"part_type"` // comment, note, assignment, close, …
	Body       string          `json:"body"`      // HTML
	CreatedAt  Time            `json:"created_at"`
	UpdatedAt  Time            `json:"updated_at"`
	NotifiedAt Time            `json:"notified_at"`
	Author     IntercomAuthor  `json:"author"`
	AssignedTo *IntercomAuthor `json:"assigned_to"` // nil unless the part assigns
	Redacted   bool            `json:"redacted"`
}

// An IntercomContact is a contact item: a user or a lead.
type IntercomContact struct {
	ID               ID            `json:"id"`
	Role             IntercomRole  `json:"role"`
	Email            string        `json:"email"`
	Phone            string        `json:"phone"`
	Name             string        `json:"name"`
	ExternalID       string        `json:"external_id"`
	WorkspaceID      string        `json:"workspace_id"`
	CreatedAt        Time          `json:"created_at"` // ISO 8601 in current payloads, Unix seconds in the spec
	UpdatedAt        Time          `json:"updated_at"`
	SignedUpAt       Time          `json:"signed_up_at"`
	LastSeenAt       Time          `json:"last_seen_at"`
	Tags             []IntercomTag `json:"tags"`
	CustomAttributes Attributes    `json:"custom_attributes"`
	Deleted          bool          `json:"deleted"` // the item is the stub of contact.deleted
}

// An IntercomTicket is a ticket item. State and TicketType hold both
// forms the topics send (see IntercomTicketState, IntercomTicketType).
type IntercomTicket struct {
	ID               ID                   `json:"id"`
	TicketID         ID                   `json:"ticket_id"` // the number teammates and customers see
	Category         string               `json:"category"`
	TicketAttributes Attributes           `json:"ticket_attributes"` // includes _default_title_ and _default_description_
	State            IntercomTicketState  `json:"ticket_state"`
	TicketType       IntercomTicketType   `json:"ticket_type"`
	Contacts         []IntercomContactRef `json:"contacts"`
	AdminAssigneeID  ID                   `json:"admin_assignee_id"` // strings such as "0" in real payloads
	TeamAssigneeID   ID                   `json:"team_assignee_id"`
	CreatedAt        Time                 `json:"created_at"`
	UpdatedAt        Time                 `json:"updated_at"`
	Open             bool                 `json:"open"`
	Deleted          bool                 `json:"deleted"`
	// ChangedContact is the contact that ticket.contact.attached or
	// ticket.contact.detached is about; nil for other topics.
	ChangedContact *IntercomContact `json:"changed_contact"`
}

// Title returns the ticket's _default_title_ attribute, if it is a string.
func (t *IntercomTicket) Title() string {
	s, _ := t.TicketAttributes["_default_title_"].(string)
	return s
}

// IntercomTicketState is a ticket's state. Older API versions send a bare
// string such as "submitted", which decodes into Category; newer ones send
// an object.
type IntercomTicketState struct {
	ID            ID     `json:"id"`
	Category      string `json:"category"` // submitted, in_progress, waiting_on_customer, resolved
	InternalLabel string `json:"internal_label"`
	ExternalLabel string `json:"external_label"`
}

// UnmarshalJSON accepts the string and the object form.
func (s *IntercomTicketState) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		c, ok := unquote(b)
		if !ok {
			return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[IntercomTicketState]()}
		}
		*s = IntercomTicketState{Category: c}
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return &json.UnmarshalTypeError{Value: valueKind(b), Type: reflect.TypeFor[IntercomTicketState]()}
	}
	type plain IntercomTicketState
	var p plain
	if json.Unmarshal(b, &p) != nil {
		// Named for the state as a whole, which is what is left zero.
		return &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[IntercomTicketState]()}
	}
	*s = IntercomTicketState(p)
	return nil
}

// IntercomTicketType is a ticket's type, as defined in the workspace.
// Most ticket topics send an object; ticket.contact.attached and
// ticket.contact.detached send the type's name alone, a string such as
// "Tickets", which decodes into Name.
type IntercomTicketType struct {
	Type        string `json:"type"`
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"` // Customer, Back-office, Tracker
}

// UnmarshalJSON accepts the string and the object form.
func (tt *IntercomTicketType) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		name, ok := unquote(b)
		if !ok {
			break
		}
		*tt = IntercomTicketType{Name: name}
		return nil
	case len(b) > 0 && b[0] == '{':
		type plain IntercomTicketType
		var p plain
		if json.Unmarshal(b, &p) != nil {
			break
		}
		*tt = IntercomTicketType(p)
		return nil
	}
	return &json.UnmarshalTypeError{Value: valueKind(b), Type: reflect.TypeFor[IntercomTicketType]()}
}

// An IntercomCompany is a company item.
type IntercomCompany struct {
	ID               ID            `json:"id"`
	CompanyID        string        `json:"company_id"` // the workspace's own id for the company
	Name             string        `json:"name"`
	Plan             IntercomPlan  `json:"plan"`
	MonthlySpend     float64       `json:"monthly_spend"`
	SessionCount     int           `json:"session_count"`
	UserCount        int           `json:"user_count"`
	Size             int           `json:"size"`
	Website          string        `json:"website"`
	Industry         string        `json:"industry"`
	CreatedAt        Time          `json:"created_at"`
	UpdatedAt        Time          `json:"updated_at"`
	RemoteCreatedAt  Time          `json:"remote_created_at"`
	Tags             []IntercomTag `json:"tags"`
	CustomAttributes Attributes    `json:"custom_attributes"`
	Deleted          bool          `json:"deleted"`
}

// IntercomPlan is a company's plan.
type IntercomPlan struct {
	Type string `json:"type"`
	ID   ID     `json:"id"`
	Name string `json:"name"`
}

// An IntercomAdmin is a teammate. Webhooks send its id as a JSON number,
// the REST API as a string; ID holds either as the same text.
type IntercomAdmin struct {
	ID               ID     `json:"id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	JobTitle         string `json:"job_title"`
	AwayModeEnabled  bool   `json:"away_mode_enabled"`
	AwayModeReassign bool   `json:"away_mode_reassign"`
	HasInboxSeat     bool   `json:"has_inbox_seat"`
	TeamIDs          []ID   `json:"team_ids"`
}

// An IntercomContactTag is a tag added to or removed from a contact.
type IntercomContactTag struct {
	CreatedAt Time             `json:"created_at"`
	Tag       IntercomTag      `json:"tag"`
	Contact   *IntercomContact `json:"contact"` // nil if the item names none
}

// An IntercomDataEvent is a custom data event recorded for a contact.
type IntercomDataEvent struct {
	EventName      string     `json:"event_name"`
	CreatedAt      Time       `json:"created_at"`
	UserID         string     `json:"user_id"`
	IntercomUserID ID         `json:"intercom_user_id"`
	Email          string     `json:"email"`
	Metadata       Attributes `json:"metadata"`
}

// An IntercomVisitor is an anonymous visitor of the workspace's site or
// app; visitor.signed_up sends one when the visitor gives an email.
type IntercomVisitor struct {
	ID               ID         `json:"id"`
	UserID           string     `json:"user_id"` // the visitor's own id, which Intercom generates
	Email            string     `json:"email"`
	Name             string     `json:"name"`
	CreatedAt        Time       `json:"created_at"`
	UpdatedAt        Time       `json:"updated_at"`
	SignedUpAt       Time       `json:"signed_up_at"`
	CustomAttributes Attributes `json:"custom_attributes"`
}

// An IntercomPing is the item of the ping topic, sent when a subscription
// is set up and from the Developer Hub's test button.
type IntercomPing struct {
	Message string `json:"message"`
}

// itemKind is one row of the Intercom item table: a kind of data.item
// with a typed accessor on IntercomNotification. A new kind is a row, its
// struct (json tags for the item's keys), its accessor and a fixture; the
// completeness test holds each row to all three.
type itemKind struct {
	kind string
	typ  reflect.Type // what the accessor returns
	// notification decodes a whole body whose item is of this kind, once,
	// straight into the notification and the item's struct.
	notification func(dec *decoder, raw []byte) (*IntercomNotification, error)
	// decodeItem decodes the item alone.
	decodeItem func(dec *decoder, item []byte) (any, []error)
}

// itemKinds is the Intercom item table. Most kinds decode into their
// struct as it is; a kind whose item spells a field otherwise (a list
// wrapped in an object, the older API generation's names) decodes through
// a wire form that embeds the struct and adds only those keys.
var itemKinds = []itemKind{
	itemRow(ItemConversation, (*conversationJSON).item),
	itemRow(ItemContact, (*contactJSON).item),
	itemRow(ItemUser, (*contactJSON).item),
	itemRow(ItemTicket, (*ticketJSON).item),
	itemRow(ItemCompany, (*companyJSON).item),
	itemRow(ItemAdmin, same[IntercomAdmin]),
	itemRow(ItemContactTag, (*contactTagJSON).item),
	itemRow(ItemEvent, same[IntercomDataEvent]),
	itemRow(ItemVisitor, same[IntercomVisitor]),
	itemRow(ItemPing, same[IntercomPing]),
}

// nestedTicket is the item of ticket.closed from API 2.15, and of
// ticket.contact.attached and .detached: the ticket one level down.
var nestedTicket = itemRow(ItemTicket, (*nestedTicketJSON).item)

// same is the finishing step of a kind that decodes into its struct as is.
func same[T any](v *T) *T { return v }

// itemRow makes the row of a kind whose item decodes into W, which finish
// turns into the struct the accessor returns.
func itemRow[W, T any](kind string, finish func(*W) *T) itemKind {
	return itemKind{
		kind: kind,
		typ:  reflect.TypeFor[*T](),
		notification: func(dec *decoder, raw []byte) (*IntercomNotification, error) {
			w := new(notificationJSON[W])
			errs, err := dec.unmarshal(raw, w)
			if err != nil {
				return nil, err
			}
			n := &w.IntercomNotification
			n.Data.Type, n.fieldErrs, n.itemType, n.parsed = w.Data.Type, errs, kind, true
			if w.Data.Item != nil {
				n.item = finish(w.Data.Item)
			}
			return n, nil
		},
		decodeItem: func(dec *decoder, item []byte) (any, []error) {
			w := new(W)
			errs, err := dec.unmarshal(item, w)
			if err != nil {
				return nil, nil
			}
			return finish(w), errs
		},
	}
}

// notificationJSON is a notification whose item decodes into W in the
// same pass as the envelope.
type notificationJSON[W any] struct {
	IntercomNotification
	Data struct {
		Type string `json:"type"`
		Item *W     `json:"item"`
	} `json:"data"`
}

// itemShape is what detection reads of data.item.
type itemShape struct {
	Type   string    `json:"type"`
	Ticket *struct{} `json:"ticket"`
}

// kind returns the item table's row for the item, or nil.
func (it *itemShape) kind() *itemKind {
	if it == nil {
		return nil
	}
	if it.Ticket != nil && it.Type != ItemConversation {
		return &nestedTicket
	}
	for i := range itemKinds {
		if itemKinds[i].kind == it.Type {
			return &itemKinds[i]
		}
	}
	return nil
}

// itemTypeOf is ItemType for an item of shape it.
func itemTypeOf(it *itemShape) string {
	switch {
	case it == nil:
		return ""
	case it.Type == "" && it.Ticket != nil:
		return ItemTicket
	}
	return it.Type
}

// itemShapeOf reads the shape of a raw item; nil if it is not an object.
func itemShapeOf(item json.RawMessage) *itemShape {
	if len(item) == 0 || item[0] != '{' {
		return nil
	}
	it := new(itemShape)
	if _, err := lenient.unmarshal(item, it); err != nil {
		return nil
	}
	return it
}

// rawItem finds data.item in a body as encoding/json does, for a body
// scanShape did not read.
func rawItem(raw []byte) json.RawMessage {
	var env struct {
		Data struct {
			Item json.RawMessage `json:"item"`
		} `json:"data"`
	}
	_, _ = lenient.unmarshal(raw, &env)
	return env.Data.Item
}

// conversationJSON is a conversation's wire form: its lists come wrapped
// in objects, and the older API generation names its contact user, its
// assignee assignee and its source conversation_message; item maps them
// onto the same fields.
type conversationJSON struct {
	IntercomConversation
	Source              *IntercomSource      `json:"source"`
	Contacts            *intercomContactList `json:"contacts"`
	Tags                *intercomTagList     `json:"tags"`
	ConversationParts   *intercomPartList    `json:"conversation_parts"`
	User                *intercomUserRef     `json:"user"`
	Assignee            *IntercomAuthor      `json:"assignee"`
	ConversationMessage *IntercomSource      `json:"conversation_message"`
}

// intercomUserRef is the older API generation's user of a conversation.
type intercomUserRef struct {
	Type       string `json:"type"`
	ID         ID     `json:"id"`
	ExternalID string `json:"external_id"`
	UserID     string `json:"user_id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
}

func (w *conversationJSON) item() *IntercomConversation {
	c := &w.IntercomConversation
	c.Source, c.Tags = deref(w.Source), w.Tags.all()
	if w.Contacts != nil {
		c.Contacts = w.Contacts.Contacts
	}
	if p := w.ConversationParts; p != nil {
		c.Parts, c.PartsTotal = p.Parts, p.TotalCount
	}
	// The older generation's fields, where the newer ones are absent.
	if u := w.User; w.Contacts == nil && u != nil {
		c.Contacts = []IntercomContactRef{{Type: u.Type, ID: u.ID, ExternalID: cmp.Or(u.ExternalID, u.UserID), Name: u.Name, Email: u.Email}}
	}
	if w.Source == nil && w.ConversationMessage != nil {
		c.Source = *w.ConversationMessage
	}
	if a := w.Assignee; a != nil && c.AdminAssigneeID == "" && c.TeamAssigneeID == "" {
		switch a.Type {
		case "admin":
			c.AdminAssigneeID = a.ID
		case "team":
			c.TeamAssigneeID = a.ID
		} // "nobody_admin": unassigned
	}
	return c
}

// contactJSON is a contact's wire form: tags wrapped in an object, and the
// older generation's user_id for external_id and kind user for its role.
type contactJSON struct {
	IntercomContact
	Type   string           `json:"type"`
	UserID string           `json:"user_id"`
	Tags   *intercomTagList `json:"tags"`
}

func (w *contactJSON) item() *IntercomContact {
	c := &w.IntercomContact
	c.ExternalID, c.Tags = cmp.Or(c.ExternalID, w.UserID), w.Tags.all()
	if c.Role == "" && w.Type == ItemUser {
		c.Role = RoleUser // the older generation's kind is its role
	}
	return c
}

// ticketJSON is a ticket's wire form: contacts wrapped in an object, and
// the state as state with custom labels, as ticket.contact.attached and
// .detached send it, where ticket_state is absent.
type ticketJSON struct {
	IntercomTicket
	Contacts                    *intercomContactList `json:"contacts"`
	State                       string               `json:"state"`
	TicketCustomStateAdminLabel string               `json:"ticket_custom_state_admin_label"`
	TicketCustomStateUserLabel  string               `json:"ticket_custom_state_user_label"`
}

func (w *ticketJSON) item() *IntercomTicket {
	t := &w.IntercomTicket
	if w.Contacts != nil {
		t.Contacts = w.Contacts.Contacts
	}
	if t.State == (IntercomTicketState{}) && w.State != "" {
		t.State = IntercomTicketState{Category: w.State, InternalLabel: w.TicketCustomStateAdminLabel,
			ExternalLabel: w.TicketCustomStateUserLabel}
	}
	return t
}

// nestedTicketJSON is the item that holds the ticket one level down, with
// the contact a ticket.contact.attached or .detached is about.
type nestedTicketJSON struct {
	Ticket  *ticketJSON  `json:"ticket"`
	Contact *contactJSON `json:"contact"`
}

func (w *nestedTicketJSON) item() *IntercomTicket {
	t := orNew(w.Ticket).item()
	if w.Contact != nil {
		t.ChangedContact = w.Contact.item()
	}
	return t
}

type companyJSON struct {
	IntercomCompany
	Tags *intercomTagList `json:"tags"`
}

func (w *companyJSON) item() *IntercomCompany {
	w.IntercomCompany.Tags = w.Tags.all()
	return &w.IntercomCompany
}

type contactTagJSON struct {
	IntercomContactTag
	Contact *contactJSON `json:"contact"`
}

func (w *contactTagJSON) item() *IntercomContactTag {
	if w.Contact != nil {
		w.IntercomContactTag.Contact = w.Contact.item()
	}
	return &w.IntercomContactTag
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
