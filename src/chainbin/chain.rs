// SPDX-License-Identifier: MPL-2.0
//! A chain of children inside a bin, between its sink and src ghost pads: built from specs,
//! linked, brought to the bin's state, and swapped for another by retargeting the ghost pads.
//! This is the only code that retargets a deciding bin's ghost pads.

use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;

use crate::sync::lock;

/// A property value for a child: a typed value, or a string parsed as `gst-launch-1.0` would
/// (enums and flags by nick, e.g. `speed-preset=ultrafast`).
#[derive(Debug, Clone)]
pub(crate) enum PropertyValue {
    Value(glib::Value),
    Str(String),
}

/// How to make one child of a chain.
pub(crate) struct ElementSpec {
    /// The factory name, also what errors and `describe()` call the element.
    pub(crate) factory: &'static str,
    /// Properties set before the element is added.
    pub(crate) properties: Vec<(&'static str, PropertyValue)>,
    /// Makes an element that is not registered with GStreamer (this crate's internal ones).
    pub(crate) make: Option<fn() -> gst::Element>,
    /// Runs on the new element before it is added (e.g. a pad probe for a version's quirk).
    pub(crate) setup: Option<fn(&gst::Element)>,
}

impl ElementSpec {
    pub(crate) fn new(factory: &'static str) -> ElementSpec {
        ElementSpec {
            factory,
            properties: Vec::new(),
            make: None,
            setup: None,
        }
    }

    /// An element of this crate that has no factory in the registry.
    pub(crate) fn internal(factory: &'static str, make: fn() -> gst::Element) -> ElementSpec {
        ElementSpec {
            make: Some(make),
            ..ElementSpec::new(factory)
        }
    }

    pub(crate) fn property(
        mut self,
        name: &'static str,
        value: impl Into<glib::Value>,
    ) -> ElementSpec {
        self.properties
            .push((name, PropertyValue::Value(value.into())));
        self
    }

    pub(crate) fn setup(mut self, setup: fn(&gst::Element)) -> ElementSpec {
        self.setup = Some(setup);
        self
    }

    #[allow(dead_code)]
    pub(crate) fn property_from_str(mut self, name: &'static str, value: &str) -> ElementSpec {
        self.properties
            .push((name, PropertyValue::Str(value.to_owned())));
        self
    }

    fn build(&self) -> Result<gst::Element, BuildError> {
        let element = match self.make {
            Some(make) => make(),
            None => gst::ElementFactory::make(self.factory)
                .build()
                .map_err(|_| BuildError::MissingElement(self.factory))?,
        };
        for (name, value) in &self.properties {
            set_checked(&element, name, value).map_err(|why| BuildError::Property {
                factory: self.factory,
                property: name,
                why,
            })?;
        }
        if let Some(setup) = self.setup {
            setup(&element);
        }
        Ok(element)
    }
}

/// Sets a property without the panics of `set_property*` for a name the object lacks or a
/// value it cannot take: element versions differ, and a child's property must never take the
/// streaming thread down. Also used on objects built outside an [`ElementSpec`] (an encoder
/// chosen at run time by name, a mixer pad).
pub(crate) fn set_checked(
    object: &impl IsA<glib::Object>,
    name: &str,
    value: &PropertyValue,
) -> Result<(), String> {
    let object = object.upcast_ref::<glib::Object>();
    let pspec = object
        .find_property(name)
        .ok_or_else(|| "no such property".to_owned())?;
    if !pspec.flags().contains(glib::ParamFlags::WRITABLE) {
        return Err("not writable".into());
    }
    let value = match value {
        PropertyValue::Value(v) => v
            .transform_with_type(pspec.value_type())
            .map_err(|_| format!("a {} cannot be a {}", v.type_(), pspec.value_type()))?,
        PropertyValue::Str(s) => glib::Value::deserialize_with_pspec(s, &pspec)
            .map_err(|_| format!("'{s}' is not a valid {}", pspec.value_type()))?,
    };
    if !is_valid(&pspec, &value) {
        return Err(format!("{value:?} is out of range"));
    }
    object.set_property_from_value(name, &value);
    Ok(())
}

/// Why a chain could not be put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuildError {
    /// No factory of that name is registered: a plugin package is missing.
    MissingElement(&'static str),
    /// A property of a child could not be set.
    Property {
        factory: &'static str,
        property: &'static str,
        why: String,
    },
    /// The elements could not be added, linked or brought to the bin's state.
    Link(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::MissingElement(name) => write!(f, "GStreamer element '{name}' is missing"),
            BuildError::Property {
                factory,
                property,
                why,
            } => write!(f, "cannot set {factory}'s property '{property}': {why}"),
            BuildError::Link(why) => write!(f, "could not link the chain: {why}"),
        }
    }
}

/// Creates the elements of `specs`, configured but not yet added to a bin.
pub(crate) fn build(specs: &[ElementSpec]) -> Result<Vec<gst::Element>, BuildError> {
    specs.iter().map(ElementSpec::build).collect()
}

struct Installed<S> {
    shape: S,
    elements: Vec<gst::Element>,
}

/// Where a chain takes its input from.
#[derive(Debug, Clone)]
pub(crate) enum Inlet {
    /// A sink ghost pad of the bin, retargeted at the first element's `sink` pad.
    Ghost(gst::GhostPad),
    /// Nothing: the first element feeds itself (a mixer fed through its request pads).
    Open,
}

/// Where a chain's output goes.
#[derive(Debug, Clone)]
pub(crate) enum Outlet {
    /// A src ghost pad of the bin, retargeted at the last element's `src` pad.
    Ghost(gst::GhostPad),
    /// A sink pad inside the bin (a mixer's request pad), linked from the last element's `src`
    /// pad; with an empty chain the inlet's ghost pad targets it directly.
    Peer(gst::Pad),
}

/// The state the children of a chain are brought to once linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildState {
    /// The bin's state, or the state it is changing to (`gst_element_sync_state_with_parent`).
    OfParent,
    /// This state: for a chain installed from the bin's own `change_state`, before the bin moves
    /// its children on (syncing would jump them to the pipeline's final target state ahead of it).
    Fixed(gst::State),
}

/// The chain a bin has between two ends (by default its two ghost pads), tagged with the shape
/// (`S`) it was built for, so that the bin can tell whether new caps need another one.
pub(crate) struct ChainSlot<S> {
    inlet: Inlet,
    outlet: Mutex<Outlet>,
    current: Mutex<Option<Installed<S>>>,
}

impl<S: Clone> ChainSlot<S> {
    /// A chain between a bin's sink and src ghost pads.
    pub(crate) fn new(sinkpad: &gst::GhostPad, srcpad: &gst::GhostPad) -> ChainSlot<S> {
        ChainSlot::between(Inlet::Ghost(sinkpad.clone()), Outlet::Ghost(srcpad.clone()))
    }

    pub(crate) fn between(inlet: Inlet, outlet: Outlet) -> ChainSlot<S> {
        ChainSlot {
            inlet,
            outlet: Mutex::new(outlet),
            current: Mutex::new(None),
        }
    }

    /// Where the next chain's output goes; the caller moves the chain in place (autoenc puts a
    /// queue of its own after it in a live pipeline, before the first frame).
    pub(crate) fn set_outlet(&self, outlet: Outlet) {
        *lock(&self.outlet) = outlet;
    }

    /// The shape of the chain in place, if any.
    pub(crate) fn shape(&self) -> Option<S> {
        lock(&self.current).as_ref().map(|c| c.shape.clone())
    }

    /// `read` of the shape of the chain in place, if any, without copying it (per buffer).
    pub(crate) fn read_shape<T>(&self, read: impl FnOnce(&S) -> T) -> Option<T> {
        lock(&self.current).as_ref().map(|c| read(&c.shape))
    }

    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.current).is_none()
    }

    /// The chain's elements in link order (empty without a chain).
    pub(crate) fn elements(&self) -> Vec<gst::Element> {
        lock(&self.current)
            .as_ref()
            .map_or_else(Vec::new, |c| c.elements.clone())
    }

    /// Whether `object` is one of the chain's elements or inside one.
    pub(crate) fn contains(&self, object: &gst::Object) -> bool {
        lock(&self.current)
            .iter()
            .flat_map(|c| &c.elements)
            .any(|e| {
                let e: &gst::Object = e.upcast_ref();
                object == e || object.has_as_ancestor(e)
            })
    }

    /// Builds `specs` and swaps them in, replacing the chain in place (if any).
    pub(crate) fn build_and_install(
        &self,
        bin: &gst::Bin,
        shape: S,
        specs: &[ElementSpec],
    ) -> Result<(), BuildError> {
        let elements = build(specs)?;
        self.install(bin, shape, elements)
    }

    /// Swaps in `elements` as the chain: the old one (if any) is unlinked, stopped and removed
    /// first, then the new one is added, linked, brought to the bin's state and put between the
    /// two ends. On failure nothing of the new chain stays in the bin.
    pub(crate) fn install(
        &self,
        bin: &gst::Bin,
        shape: S,
        elements: Vec<gst::Element>,
    ) -> Result<(), BuildError> {
        self.install_in_state(bin, shape, elements, ChildState::OfParent)
    }

    /// [`install`](Self::install), with the children brought to `state`.
    pub(crate) fn install_in_state(
        &self,
        bin: &gst::Bin,
        shape: S,
        elements: Vec<gst::Element>,
        state: ChildState,
    ) -> Result<(), BuildError> {
        self.teardown(bin);
        let outlet = lock(&self.outlet).clone();
        let link = || -> Result<(), glib::BoolError> {
            bin.add_many(&elements)?;
            gst::Element::link_many(&elements)?;
            let first = elements.first().and_then(|e| e.static_pad("sink"));
            let last = elements.last().and_then(|e| e.static_pad("src"));
            // A peer inside the bin is linked before the children start, so that nothing they
            // push finds an open end.
            if let Outlet::Peer(peer) = &outlet {
                match &last {
                    Some(src) => src.link(peer).map(|_| ()).map_err(|err| {
                        glib::bool_error!("cannot link {} to {}: {err:?}", src.name(), peer.name())
                    })?,
                    None if !elements.is_empty() => {
                        return Err(glib::bool_error!("the last element has no src pad"));
                    }
                    None => {}
                }
            }
            for element in &elements {
                match state {
                    ChildState::OfParent => element.sync_state_with_parent()?,
                    ChildState::Fixed(state) => {
                        element.set_state(state).map_err(|err| {
                            glib::bool_error!("{} cannot go to {state:?}: {err}", element.name())
                        })?;
                    }
                }
            }
            if let Inlet::Ghost(ghost) = &self.inlet {
                match (&outlet, elements.is_empty()) {
                    (Outlet::Peer(peer), true) => ghost.set_target(Some(peer))?,
                    _ => ghost.set_target(first.as_ref())?,
                }
            }
            if let Outlet::Ghost(ghost) = &outlet {
                ghost.set_target(last.as_ref())?;
            }
            Ok(())
        };
        if let Err(err) = link() {
            self.remove(bin, &elements);
            return Err(BuildError::Link(err.to_string()));
        }
        *lock(&self.current) = Some(Installed { shape, elements });
        Ok(())
    }

    /// Takes the chain in place, if any, out of the bin without stopping it, for a caller that
    /// cannot wait for its elements to stop (a hung encoder): they are unlinked from the ghost
    /// pads and removed, and keep their state.
    pub(crate) fn detach(&self, bin: &gst::Bin) -> Vec<gst::Element> {
        let Some(old) = lock(&self.current).take() else {
            return Vec::new();
        };
        if let Inlet::Ghost(ghost) = &self.inlet {
            let _ = ghost.set_target(None::<&gst::Pad>);
        }
        if let Outlet::Ghost(ghost) = &*lock(&self.outlet) {
            let _ = ghost.set_target(None::<&gst::Pad>);
        }
        for element in old.elements.iter().rev() {
            if element.parent().as_ref() == Some(bin.upcast_ref()) {
                let _ = bin.remove(element);
            }
        }
        old.elements
    }

    /// Removes the chain in place, if any.
    pub(crate) fn teardown(&self, bin: &gst::Bin) {
        let old = lock(&self.current).take();
        if let Some(old) = old {
            self.remove(bin, &old.elements);
        }
    }

    fn remove(&self, bin: &gst::Bin, elements: &[gst::Element]) {
        if let Inlet::Ghost(ghost) = &self.inlet {
            let _ = ghost.set_target(None::<&gst::Pad>);
        }
        if let Outlet::Ghost(ghost) = &*lock(&self.outlet) {
            let _ = ghost.set_target(None::<&gst::Pad>);
        }
        for element in elements.iter().rev() {
            let _ = element.set_state(gst::State::Null);
            if element.parent().as_ref() == Some(bin.upcast_ref()) {
                let _ = bin.remove(element);
            }
        }
    }
}

/// Whether `value` is in `pspec`'s range (GLib would clamp it, silently, otherwise).
fn is_valid(pspec: &glib::ParamSpec, value: &glib::Value) -> bool {
    use glib::translate::{ToGlibPtr, ToGlibPtrMut};
    let mut probe = value.clone();
    // SAFETY: both are valid GLib objects of matching type; validate only edits `probe`.
    let clamped = unsafe {
        glib::gobject_ffi::g_param_value_validate(
            pspec.to_glib_none().0,
            probe.to_glib_none_mut().0,
        )
    };
    clamped == glib::ffi::GFALSE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() {
        gst::init().unwrap();
    }

    fn bin_with_ghost_pads() -> (gst::Bin, gst::GhostPad, gst::GhostPad) {
        let bin = gst::Bin::new();
        let sink = gst::GhostPad::new(gst::PadDirection::Sink);
        let src = gst::GhostPad::new(gst::PadDirection::Src);
        bin.add_pad(&sink).unwrap();
        bin.add_pad(&src).unwrap();
        (bin, sink, src)
    }

    #[test]
    fn install_links_and_retargets_then_a_swap_removes_the_old_chain() {
        init();
        let (bin, sink, src) = bin_with_ghost_pads();
        let slot = ChainSlot::new(&sink, &src);
        assert!(slot.is_empty());
        let specs = [
            ElementSpec::new("identity").property("silent", true),
            ElementSpec::new("queue"),
        ];
        slot.build_and_install(&bin, 1, &specs).unwrap();
        assert_eq!(slot.shape(), Some(1));
        let first = slot.elements();
        assert_eq!(first.len(), 2);
        assert!(first[0].property::<bool>("silent"));
        assert_eq!(
            sink.target().unwrap().parent().as_ref(),
            Some(first[0].upcast_ref())
        );
        assert_eq!(
            src.target().unwrap().parent().as_ref(),
            Some(first[1].upcast_ref())
        );
        assert!(slot.contains(first[1].upcast_ref()));

        slot.build_and_install(&bin, 2, &[ElementSpec::new("identity")])
            .unwrap();
        assert_eq!(slot.shape(), Some(2));
        assert_eq!(bin.children().len(), 1);
        assert!(first[0].parent().is_none());
        assert!(!slot.contains(first[0].upcast_ref()));

        slot.teardown(&bin);
        assert!(slot.is_empty() && bin.children().is_empty());
        assert!(sink.target().is_none() && src.target().is_none());
    }

    #[test]
    fn a_chain_into_a_peer_pad_links_it_and_an_empty_one_targets_it() {
        init();
        let bin = gst::Bin::new();
        let sink = gst::GhostPad::new(gst::PadDirection::Sink);
        bin.add_pad(&sink).unwrap();
        let mixer = gst::ElementFactory::make("funnel").build().unwrap();
        bin.add(&mixer).unwrap();
        let peer = mixer.request_pad_simple("sink_%u").unwrap();
        let slot = ChainSlot::between(Inlet::Ghost(sink.clone()), Outlet::Peer(peer.clone()));

        slot.install(bin.upcast_ref(), "direct", Vec::new())
            .unwrap();
        assert_eq!(sink.target().as_ref(), Some(&peer));

        slot.build_and_install(bin.upcast_ref(), "queued", &[ElementSpec::new("queue")])
            .unwrap();
        let queue = &slot.elements()[0];
        assert_eq!(
            sink.target().unwrap().parent().as_ref(),
            Some(queue.upcast_ref())
        );
        assert_eq!(
            peer.peer().and_then(|p| p.parent()).as_ref(),
            Some(queue.upcast_ref())
        );

        slot.teardown(bin.upcast_ref());
        assert!(sink.target().is_none() && peer.peer().is_none());
        assert_eq!(bin.children().len(), 1);
    }

    #[test]
    fn an_open_chain_feeds_the_src_ghost_pad_and_can_stay_in_a_fixed_state() {
        init();
        let bin = gst::Bin::new();
        let src = gst::GhostPad::new(gst::PadDirection::Src);
        bin.add_pad(&src).unwrap();
        let slot = ChainSlot::between(Inlet::Open, Outlet::Ghost(src.clone()));
        let elements = build(&[ElementSpec::new("funnel"), ElementSpec::new("identity")]).unwrap();
        slot.install_in_state(
            bin.upcast_ref(),
            (),
            elements,
            ChildState::Fixed(gst::State::Ready),
        )
        .unwrap();
        let elements = slot.elements();
        assert_eq!(
            src.target().unwrap().parent().as_ref(),
            Some(elements[1].upcast_ref())
        );
        assert_eq!(elements[0].current_state(), gst::State::Ready);
        slot.teardown(bin.upcast_ref());
        assert!(src.target().is_none() && bin.children().is_empty());
    }

    #[test]
    fn a_missing_factory_is_named_and_nothing_is_added() {
        init();
        let (bin, sink, src) = bin_with_ghost_pads();
        let slot = ChainSlot::new(&sink, &src);
        let specs = [
            ElementSpec::new("identity"),
            ElementSpec::new("no-such-element"),
        ];
        let err = slot.build_and_install(&bin, (), &specs).unwrap_err();
        assert_eq!(err, BuildError::MissingElement("no-such-element"));
        assert_eq!(
            err.to_string(),
            "GStreamer element 'no-such-element' is missing"
        );
        assert!(slot.is_empty() && bin.children().is_empty());
    }

    #[test]
    fn a_chain_that_cannot_link_is_removed_again() {
        init();
        let (bin, sink, src) = bin_with_ghost_pads();
        let slot = ChainSlot::new(&sink, &src);
        // An audio source has no sink pad to link into.
        let specs = [
            ElementSpec::new("identity"),
            ElementSpec::new("audiotestsrc"),
        ];
        assert!(matches!(
            slot.build_and_install(&bin, (), &specs),
            Err(BuildError::Link(_))
        ));
        assert!(slot.is_empty() && bin.children().is_empty());
    }

    #[test]
    fn properties_an_element_cannot_take_are_errors_not_panics() {
        init();
        let build_one = |spec: ElementSpec| build(&[spec]).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            build_one(ElementSpec::new("identity").property("no-such", 1)),
            "cannot set identity's property 'no-such': no such property"
        );
        assert!(
            build_one(ElementSpec::new("identity").property("silent", "yes"))
                .contains("cannot be a gboolean")
        );
        assert!(
            build_one(ElementSpec::new("videotestsrc").property_from_str("pattern", "nope"))
                .contains("'nope' is not a valid")
        );
        assert!(
            build_one(ElementSpec::new("videotestsrc").property("num-buffers", -5))
                .contains("out of range")
        );
        let ok = build(&[ElementSpec::new("videotestsrc")
            .property_from_str("pattern", "ball")
            .property("num-buffers", 3)])
        .unwrap();
        assert_eq!(ok[0].property::<i32>("num-buffers"), 3);
    }

    #[test]
    fn internal_elements_are_made_by_their_function() {
        init();
        fn make() -> gst::Element {
            gst::ElementFactory::make("identity")
                .name("made-here")
                .build()
                .unwrap()
        }
        let elements = build(&[ElementSpec::internal("stromnothing", make)]).unwrap();
        assert_eq!(elements[0].name(), "made-here");
    }
}
