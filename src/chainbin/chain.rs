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
    pub factory: &'static str,
    /// Properties set before the element is added.
    pub properties: Vec<(&'static str, PropertyValue)>,
    /// Makes an element that is not registered with GStreamer (this crate's internal ones).
    pub make: Option<fn() -> gst::Element>,
}

impl ElementSpec {
    pub fn new(factory: &'static str) -> ElementSpec {
        ElementSpec {
            factory,
            properties: Vec::new(),
            make: None,
        }
    }

    /// An element of this crate that has no factory in the registry.
    pub fn internal(factory: &'static str, make: fn() -> gst::Element) -> ElementSpec {
        ElementSpec {
            make: Some(make),
            ..ElementSpec::new(factory)
        }
    }

    pub fn property(mut self, name: &'static str, value: impl Into<glib::Value>) -> ElementSpec {
        self.properties
            .push((name, PropertyValue::Value(value.into())));
        self
    }

    #[allow(dead_code)]
    pub fn property_from_str(mut self, name: &'static str, value: &str) -> ElementSpec {
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
        Ok(element)
    }
}

/// Sets a property without the panics of `set_property*` for a name the element lacks or a
/// value it cannot take: element versions differ, and a child's property must never take the
/// streaming thread down. Also used on elements built outside an [`ElementSpec`] (an encoder
/// chosen at run time by name).
pub(crate) fn set_checked(
    element: &gst::Element,
    name: &str,
    value: &PropertyValue,
) -> Result<(), String> {
    let pspec = element
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
    element.set_property_from_value(name, &value);
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

/// The chain a bin has between its two ghost pads, tagged with the shape (`S`) it was built for,
/// so that the bin can tell whether new caps need another one.
pub(crate) struct ChainSlot<S> {
    sinkpad: gst::GhostPad,
    srcpad: gst::GhostPad,
    current: Mutex<Option<Installed<S>>>,
}

impl<S: Clone> ChainSlot<S> {
    pub fn new(sinkpad: &gst::GhostPad, srcpad: &gst::GhostPad) -> ChainSlot<S> {
        ChainSlot {
            sinkpad: sinkpad.clone(),
            srcpad: srcpad.clone(),
            current: Mutex::new(None),
        }
    }

    /// The shape of the chain in place, if any.
    pub fn shape(&self) -> Option<S> {
        lock(&self.current).as_ref().map(|c| c.shape.clone())
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.current).is_none()
    }

    /// The chain's elements in link order (empty without a chain).
    pub fn elements(&self) -> Vec<gst::Element> {
        lock(&self.current)
            .as_ref()
            .map_or_else(Vec::new, |c| c.elements.clone())
    }

    /// Whether `object` is one of the chain's elements or inside one.
    pub fn contains(&self, object: &gst::Object) -> bool {
        lock(&self.current)
            .iter()
            .flat_map(|c| &c.elements)
            .any(|e| {
                let e: &gst::Object = e.upcast_ref();
                object == e || object.has_as_ancestor(e)
            })
    }

    /// Builds `specs` and swaps them in, replacing the chain in place (if any).
    pub fn build_and_install(
        &self,
        bin: &gst::Bin,
        shape: S,
        specs: &[ElementSpec],
    ) -> Result<(), BuildError> {
        let elements = build(specs)?;
        self.install(bin, shape, elements)
    }

    /// Swaps in `elements` as the chain: the old one (if any) is unlinked, stopped and removed
    /// first, then the new one is added, linked, brought to the bin's state and made the ghost
    /// pads' target. On failure nothing of the new chain stays in the bin.
    pub fn install(
        &self,
        bin: &gst::Bin,
        shape: S,
        elements: Vec<gst::Element>,
    ) -> Result<(), BuildError> {
        self.teardown(bin);
        let link = || -> Result<(), glib::BoolError> {
            bin.add_many(&elements)?;
            gst::Element::link_many(&elements)?;
            for element in &elements {
                element.sync_state_with_parent()?;
            }
            let first = elements.first().and_then(|e| e.static_pad("sink"));
            let last = elements.last().and_then(|e| e.static_pad("src"));
            self.sinkpad.set_target(first.as_ref())?;
            self.srcpad.set_target(last.as_ref())?;
            Ok(())
        };
        if let Err(err) = link() {
            self.remove(bin, &elements);
            return Err(BuildError::Link(err.to_string()));
        }
        *lock(&self.current) = Some(Installed { shape, elements });
        Ok(())
    }

    /// Removes the chain in place, if any.
    pub fn teardown(&self, bin: &gst::Bin) {
        let old = lock(&self.current).take();
        if let Some(old) = old {
            self.remove(bin, &old.elements);
        }
    }

    fn remove(&self, bin: &gst::Bin, elements: &[gst::Element]) {
        let _ = self.sinkpad.set_target(None::<&gst::Pad>);
        let _ = self.srcpad.set_target(None::<&gst::Pad>);
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
