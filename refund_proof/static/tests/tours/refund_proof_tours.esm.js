import {registry} from "@web/core/registry";

const tours = registry.category("web_tour.tours");

// A refund user refunds part of a transaction from its form, with a reason.
tours.add("refund_proof_partial_refund", {
    steps: () => [
        {
            content: "Open the Refund dialog of the transaction",
            trigger: ".o_form_view button[name='action_open_refund_wizard']",
            run: "click",
        },
        {
            content: "Refund 25.00 of it",
            trigger: ".modal div[name='amount'] input",
            run: "edit 25.00",
        },
        {
            content: "Choose the reason",
            trigger: ".modal div[name='reason_id'] input",
            run: "edit Customer",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Customer request')",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "The refund is done",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Done')",
        },
    ],
});

// A refund manager approves a request awaiting approval.
tours.add("refund_proof_approve", {
    steps: () => [
        {
            content: "The request says why it waits",
            trigger: ".o_form_view .alert-warning:contains('Awaiting approval')",
        },
        {
            content: "Approve it",
            trigger: ".o_form_view button[name='action_approve']",
            run: "click",
        },
        {
            content: "It was sent and is done",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Done')",
        },
    ],
});

// A portal customer opens Refunds and finds the proof to download.
tours.add("refund_proof_portal", {
    steps: () => [
        {
            content: "Open the Refunds tile",
            trigger: "a[href='/my/refunds']",
            run: "click",
        },
        {
            content: "Open the refund",
            trigger: "table a[href^='/my/refunds/']",
            run: "click",
        },
        {
            content: "The proof can be downloaded",
            trigger: "a[href*='report_type=pdf'][href*='download=true']:contains('Download the proof')",
        },
    ],
});
