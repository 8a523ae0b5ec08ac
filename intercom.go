package webhook

import (
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

	item      any // the typed item Parse built from Data.Item
	raw       []byte
	fieldErrs []error
}

// IntercomData is the envelope's data object.
type IntercomData struct {
	Type string `json:"type"` // "notification_event_data", sometimes absent
	// Item is data.item as decoded, for json.Unmarshal's sake; read it
	// through the notification's typed accessors, or Item for the raw JSON.
	Item *intercomItem `json:"item"`
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
	it := n.Data.Item
	switch {
	case it == nil:
		return ""
	case it.Type == "" && it.Ticket != nil:
		return ItemTicket
	}
	return it.Type
}

// Item returns the raw JSON of data.item, or nil if there is none. It
// decodes the body kept by Parse on each call, so it is for the item kinds
// without a typed accessor and for fields this package does not know.
func (n *IntercomNotification) Item() json.RawMessage {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(n.raw, &env) != nil || len(env.Data) == 0 || env.Data[0] != '{' {
		return nil
	}
	var data struct {
		Item json.RawMessage `json:"item"`
	}
	if json.Unmarshal(env.Data, &data) != nil || string(data.Item) == "null" {
		return nil
	}
	return data.Item
}

// typedItem returns the item Parse built, or builds it for a notification
// decoded some other way, such as with json.Unmarshal.
func (n *IntercomNotification) typedItem() any {
	if n.item != nil {
		return n.item
	}
	return n.Data.Item.build()
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
	// Other topics; their items are kept raw unless noted.
	TopicEventCreated             = "event.created"
	TopicVisitorSignedUp          = "visitor.signed_up"
	TopicJobCompleted             = "job.completed"
	TopicAPIRequestCompleted      = "api.request.completed"
	TopicContentStatSeriesWebhook = "content_stat.series.webhook"
	// Legacy API 1.x topics, kept raw.
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

// intercomItem is data.item decoded in the same pass as the envelope: the
// union of the fields of every item kind. It sits in an exported field, so
// a notification decoded with json.Unmarshal (from a queue, say) still has
// its item, but users read it through the notification's typed accessors
// or Item, never by its type's name. Ids and
// timestamps use ID and Time because Intercom mixes numbers, numeric
// strings, ISO 8601 strings and null in them.
type intercomItem struct {
	Type             string               `json:"type"`
	ID               ID                   `json:"id"`
	CreatedAt        Time                 `json:"created_at"`
	UpdatedAt        Time                 `json:"updated_at"`
	Deleted          bool                 `json:"deleted"` // set on the stub of *.deleted topics
	Name             string               `json:"name"`
	Email            string               `json:"email"`
	Open             bool                 `json:"open"`
	AdminAssigneeID  ID                   `json:"admin_assignee_id"`
	TeamAssigneeID   ID                   `json:"team_assignee_id"`
	Contacts         *intercomContactList `json:"contacts"`
	Tags             *intercomTagList     `json:"tags"`
	CustomAttributes map[string]any       `json:"custom_attributes"`

	// Conversation.
	Title             string              `json:"title"`
	State             string              `json:"state"`
	Read              bool                `json:"read"`
	Priority          string              `json:"priority"`
	WaitingSince      Time                `json:"waiting_since"`
	SnoozedUntil      Time                `json:"snoozed_until"`
	Source            *IntercomSource     `json:"source"`
	Statistics        *IntercomStatistics `json:"statistics"`
	ConversationParts *intercomPartList   `json:"conversation_parts"`
	// The older API generation's conversation: user for contacts,
	// assignee for admin_assignee_id and team_assignee_id,
	// conversation_message for source. Conversation maps them onto the
	// same fields.
	User                *intercomItem   `json:"user"`
	Assignee            *IntercomAuthor `json:"assignee"`
	ConversationMessage *IntercomSource `json:"conversation_message"`

	// Contact.
	Role        string `json:"role"`
	Phone       string `json:"phone"`
	ExternalID  string `json:"external_id"`
	WorkspaceID string `json:"workspace_id"`
	SignedUpAt  Time   `json:"signed_up_at"`
	LastSeenAt  Time   `json:"last_seen_at"`

	// Ticket. Ticket is set for ticket.closed from API 2.15, which nests
	// the ticket one level down.
	Ticket           *intercomItem       `json:"ticket"`
	TicketID         ID                  `json:"ticket_id"`
	Category         string              `json:"category"`
	TicketAttributes map[string]any      `json:"ticket_attributes"`
	TicketState      IntercomTicketState `json:"ticket_state"`
	TicketType       *IntercomTicketType `json:"ticket_type"`
	// ticket.contact.attached and .detached give the state as state, with
	// these labels, instead of ticket_state.
	TicketCustomStateAdminLabel string `json:"ticket_custom_state_admin_label"`
	TicketCustomStateUserLabel  string `json:"ticket_custom_state_user_label"`

	// Company.
	CompanyID       string        `json:"company_id"`
	Plan            *IntercomPlan `json:"plan"`
	MonthlySpend    float64       `json:"monthly_spend"`
	SessionCount    int           `json:"session_count"`
	UserCount       int           `json:"user_count"`
	Size            int           `json:"size"`
	Website         string        `json:"website"`
	Industry        string        `json:"industry"`
	RemoteCreatedAt Time          `json:"remote_created_at"`

	// Admin.
	JobTitle         string `json:"job_title"`
	AwayModeEnabled  bool   `json:"away_mode_enabled"`
	AwayModeReassign bool   `json:"away_mode_reassign"`
	HasInboxSeat     bool   `json:"has_inbox_seat"`
	TeamIDs          []ID   `json:"team_ids"`

	// Contact tag; also the contact beside the nested ticket of
	// ticket.contact.attached and .detached.
	Tag     *IntercomTag  `json:"tag"`
	Contact *intercomItem `json:"contact"`

	// Data event.
	EventName      string         `json:"event_name"`
	UserID         string         `json:"user_id"`
	IntercomUserID ID             `json:"intercom_user_id"`
	Metadata       map[string]any `json:"metadata"`

	// Ping.
	Message string `json:"message"`
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
	ID               ID
	CreatedAt        Time
	UpdatedAt        Time
	WaitingSince     Time
	SnoozedUntil     Time
	Title            string
	State            IntercomConversationState
	Open             bool
	Read             bool
	Priority         IntercomPriority // either vocabulary
	AdminAssigneeID  ID               // "" when unassigned
	TeamAssigneeID   ID
	Source           IntercomSource
	Contacts         []IntercomContactRef
	Tags             []IntercomTag
	Statistics       IntercomStatistics
	Parts            []IntercomConversationPart // only the part that triggered the notification
	PartsTotal       int
	CustomAttributes map[string]any
	Deleted          bool // the item is the stub of conversation.deleted
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
	ID               ID
	Role             IntercomRole
	Email            string
	Phone            string
	Name             string
	ExternalID       string
	WorkspaceID      string
	CreatedAt        Time // ISO 8601 in current payloads, Unix seconds in the spec
	UpdatedAt        Time
	SignedUpAt       Time
	LastSeenAt       Time
	Tags             []IntercomTag
	CustomAttributes map[string]any
	Deleted          bool // the item is the stub of contact.deleted
}

// An IntercomTicket is a ticket item. State and TicketType hold both
// forms the topics send (see IntercomTicketState, IntercomTicketType).
type IntercomTicket struct {
	ID               ID
	TicketID         ID // the number teammates and customers see
	Category         string
	TicketAttributes map[string]any // includes _default_title_ and _default_description_
	State            IntercomTicketState
	TicketType       IntercomTicketType
	Contacts         []IntercomContactRef
	AdminAssigneeID  ID // strings such as "0" in real payloads
	TeamAssigneeID   ID
	CreatedAt        Time
	UpdatedAt        Time
	Open             bool
	Deleted          bool
	// ChangedContact is the contact that ticket.contact.attached or
	// ticket.contact.detached is about; nil for other topics.
	ChangedContact *IntercomContact
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
	ID               ID
	CompanyID        string // the workspace's own id for the company
	Name             string
	Plan             IntercomPlan
	MonthlySpend     float64
	SessionCount     int
	UserCount        int
	Size             int
	Website          string
	Industry         string
	CreatedAt        Time
	UpdatedAt        Time
	RemoteCreatedAt  Time
	Tags             []IntercomTag
	CustomAttributes map[string]any
	Deleted          bool
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
	ID               ID
	Name             string
	Email            string
	JobTitle         string
	AwayModeEnabled  bool
	AwayModeReassign bool
	HasInboxSeat     bool
	TeamIDs          []ID
}

// An IntercomContactTag is a tag added to or removed from a contact.
type IntercomContactTag struct {
	CreatedAt Time
	Tag       IntercomTag
	Contact   *IntercomContact // nil if the item names none
}

// An IntercomDataEvent is a custom data event recorded for a contact.
type IntercomDataEvent struct {
	EventName      string
	CreatedAt      Time
	UserID         string
	IntercomUserID ID
	Email          string
	Metadata       map[string]any
}

// An IntercomVisitor is an anonymous visitor of the workspace's site or
// app; visitor.signed_up sends one when the visitor gives an email.
type IntercomVisitor struct {
	ID               ID
	UserID           string // the visitor's own id, which Intercom generates
	Email            string
	Name             string
	CreatedAt        Time
	UpdatedAt        Time
	SignedUpAt       Time
	CustomAttributes map[string]any
}

// An IntercomPing is the item of the ping topic, sent when a subscription
// is set up and from the Developer Hub's test button.
type IntercomPing struct {
	Message string
}

// itemKind is one row of the Intercom item table: a kind of data.item
// with a typed accessor on IntercomNotification, and the function that
// builds it. A new kind is a row, its struct, its accessor and a fixture;
// the completeness test holds each row to all three.
type itemKind struct {
	kind  string
	build func(it *intercomItem) any
}

// itemKinds is the Intercom item table.
var itemKinds = []itemKind{
	{ItemConversation, func(it *intercomItem) any { return it.conversation() }},
	{ItemContact, func(it *intercomItem) any { return it.contact() }},
	{ItemUser, func(it *intercomItem) any { return it.contact() }},
	{ItemTicket, func(it *intercomItem) any { return it.ticket() }},
	{ItemCompany, func(it *intercomItem) any {
		return &IntercomCompany{
			ID: it.ID, CompanyID: it.CompanyID, Name: it.Name, Plan: deref(it.Plan),
			MonthlySpend: it.MonthlySpend, SessionCount: it.SessionCount, UserCount: it.UserCount,
			Size: it.Size, Website: it.Website, Industry: it.Industry, CreatedAt: it.CreatedAt,
			UpdatedAt: it.UpdatedAt, RemoteCreatedAt: it.RemoteCreatedAt, Tags: it.Tags.all(),
			CustomAttributes: it.CustomAttributes, Deleted: it.Deleted,
		}
	}},
	{ItemAdmin, func(it *intercomItem) any {
		return &IntercomAdmin{
			ID: it.ID, Name: it.Name, Email: it.Email, JobTitle: it.JobTitle,
			AwayModeEnabled: it.AwayModeEnabled, AwayModeReassign: it.AwayModeReassign,
			HasInboxSeat: it.HasInboxSeat, TeamIDs: it.TeamIDs,
		}
	}},
	{ItemContactTag, func(it *intercomItem) any {
		ct := &IntercomContactTag{CreatedAt: it.CreatedAt, Tag: deref(it.Tag)}
		if it.Contact != nil {
			ct.Contact = it.Contact.contact()
		}
		return ct
	}},
	{ItemEvent, func(it *intercomItem) any {
		return &IntercomDataEvent{
			EventName: it.EventName, CreatedAt: it.CreatedAt, UserID: it.UserID,
			IntercomUserID: it.IntercomUserID, Email: it.Email, Metadata: it.Metadata,
		}
	}},
	{ItemVisitor, func(it *intercomItem) any {
		return &IntercomVisitor{
			ID: it.ID, UserID: it.UserID, Email: it.Email, Name: it.Name, CreatedAt: it.CreatedAt,
			UpdatedAt: it.UpdatedAt, SignedUpAt: it.SignedUpAt, CustomAttributes: it.CustomAttributes,
		}
	}},
	{ItemPing, func(it *intercomItem) any { return &IntercomPing{Message: it.Message} }},
}

// build builds the item's typed form from the item table, or returns nil
// for kinds without one.
func (it *intercomItem) build() any {
	if it == nil {
		return nil
	}
	if it.Ticket != nil && it.Type != ItemConversation {
		// ticket.closed from API 2.15, and ticket.contact.attached and
		// .detached, nest the ticket one level down.
		t := it.Ticket.ticket()
		if it.Contact != nil {
			t.ChangedContact = it.Contact.contact()
		}
		return t
	}
	for _, k := range itemKinds {
		if k.kind == it.Type {
			return k.build(it)
		}
	}
	return nil
}

func (it *intercomItem) conversation() *IntercomConversation {
	c := &IntercomConversation{
		ID: it.ID, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, WaitingSince: it.WaitingSince,
		SnoozedUntil: it.SnoozedUntil, Title: it.Title, State: IntercomConversationState(it.State), Open: it.Open, Read: it.Read,
		Priority: IntercomPriority(it.Priority), AdminAssigneeID: it.AdminAssigneeID, TeamAssigneeID: it.TeamAssigneeID,
		Source: deref(it.Source), Tags: it.Tags.all(), Statistics: deref(it.Statistics),
		CustomAttributes: it.CustomAttributes, Deleted: it.Deleted,
	}
	if it.Contacts != nil {
		c.Contacts = it.Contacts.Contacts
	}
	if p := it.ConversationParts; p != nil {
		c.Parts, c.PartsTotal = p.Parts, p.TotalCount
	}
	// The older generation's fields, where the newer ones are absent.
	if u := it.User; it.Contacts == nil && u != nil {
		c.Contacts = []IntercomContactRef{{Type: u.Type, ID: u.ID, ExternalID: u.externalID(), Name: u.Name, Email: u.Email}}
	}
	if it.Source == nil && it.ConversationMessage != nil {
		c.Source = *it.ConversationMessage
	}
	if a := it.Assignee; a != nil && c.AdminAssigneeID == "" && c.TeamAssigneeID == "" {
		switch a.Type {
		case "admin":
			c.AdminAssigneeID = a.ID
		case "team":
			c.TeamAssigneeID = a.ID
		} // "nobody_admin": unassigned
	}
	return c
}

// externalID is the contact's id in the workspace's own system: external_id,
// or user_id in the older API generation.
func (it *intercomItem) externalID() string {
	if it.ExternalID != "" {
		return it.ExternalID
	}
	return it.UserID
}

func (it *intercomItem) contact() *IntercomContact {
	role := it.Role
	if role == "" && it.Type == ItemUser {
		role = string(RoleUser) // the older generation's kind is its role
	}
	return &IntercomContact{
		ID: it.ID, Role: IntercomRole(role), Email: it.Email, Phone: it.Phone, Name: it.Name,
		ExternalID: it.externalID(), WorkspaceID: it.WorkspaceID, CreatedAt: it.CreatedAt,
		UpdatedAt: it.UpdatedAt, SignedUpAt: it.SignedUpAt, LastSeenAt: it.LastSeenAt,
		Tags: it.Tags.all(), CustomAttributes: it.CustomAttributes, Deleted: it.Deleted,
	}
}

func (it *intercomItem) ticket() *IntercomTicket {
	t := &IntercomTicket{
		ID: it.ID, TicketID: it.TicketID, Category: it.Category, TicketAttributes: it.TicketAttributes,
		State: it.ticketState(), TicketType: deref(it.TicketType), AdminAssigneeID: it.AdminAssigneeID,
		TeamAssigneeID: it.TeamAssigneeID, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		Open: it.Open, Deleted: it.Deleted,
	}
	if it.Contacts != nil {
		t.Contacts = it.Contacts.Contacts
	}
	return t
}

// ticketState is ticket_state, or the state and custom state labels that
// ticket.contact.attached and .detached send instead.
func (it *intercomItem) ticketState() IntercomTicketState {
	if it.TicketState != (IntercomTicketState{}) || it.State == "" {
		return it.TicketState
	}
	return IntercomTicketState{Category: it.State, InternalLabel: it.TicketCustomStateAdminLabel,
		ExternalLabel: it.TicketCustomStateUserLabel}
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
