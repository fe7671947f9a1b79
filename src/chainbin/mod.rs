// SPDX-License-Identifier: MPL-2.0
//! What every deciding bin of this plugin shares. Each of them decides between a GPU and a CPU
//! path, builds that path as a chain of children, points its ghost pads at it, recovers to the
//! next choice when the chain fails with data flowing, and posts its decision on the bus:
//!
//! - [`chain`]: build a chain from specs, install it between the ghost pads, swap or remove it;
//! - [`hold`]: hold back the errors a chain posts while a buffer is inside, until the bin knows
//!   whether another chain takes the same buffer;
//! - [`gate`]: when queries from other threads may enter the chain;
//! - [`consumer`]: the element downstream that consumes the output, and its CUDA device;
//! - [`post_decision`]: the element message that says what was chosen and why.
//!
//! The decision itself stays with each element's plain `plan` module.

pub(crate) mod chain;
pub(crate) mod consumer;
pub(crate) mod gate;
pub(crate) mod hold;

pub(crate) use chain::{
    BuildError, ChainSlot, ChildState, ElementSpec, Inlet, Outlet, PropertyValue, set_checked,
};
pub(crate) use gate::QueryGate;
pub(crate) use hold::{ErrorHold, describe_error, summarise_error};

use gst::prelude::*;

/// Posts `decision` (e.g. a `strom-autoconvert` structure) as an element message from `element`.
pub(crate) fn post_decision(element: &impl IsA<gst::Element>, decision: gst::Structure) {
    let element = element.as_ref();
    let _ = element.post_message(
        gst::message::Element::builder(decision)
            .src(element)
            .build(),
    );
}
