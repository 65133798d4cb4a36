//! The command line of every verb: options as `--name value` or `--name=value`, and switches
//! (`--json`) that take no value. Options may repeat; their order is kept.

/// The parsed options of one verb, in the order given.
pub struct Opts {
    pairs: Vec<(String, Option<String>)>,
}

impl Opts {
    /// Parses `args` (after the verb). `options` take a value, `switches` do not; anything
    /// else is a usage error naming the argument.
    pub fn parse(args: &[String], options: &[&str], switches: &[&str]) -> Result<Opts, String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument `{arg}`"));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (flag, None),
            };
            if switches.contains(&name) {
                if inline.is_some() {
                    return Err(format!("--{name} takes no value"));
                }
                pairs.push((name.to_owned(), None));
                continue;
            }
            if !options.contains(&name) {
                return Err(format!("unknown option --{name}"));
            }
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("--{name} needs a value"))?,
            };
            pairs.push((name.to_owned(), Some(value)));
        }
        Ok(Opts { pairs })
    }

    /// Every value of the option `name`, in order.
    pub fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_owned();
        self.pairs
            .iter()
            .filter(move |(n, _)| *n == name)
            .filter_map(|(_, v)| v.as_deref())
    }

    /// The last value of the option `name` (a later one wins).
    pub fn last(&self, name: &str) -> Option<&str> {
        self.all(name).last()
    }

    /// Whether the switch `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, v)| n == name && v.is_none())
    }

    /// The last value of `name` as a whole number, if given.
    pub fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.last(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("--{name} needs a non-negative integer"))
            })
            .transpose()
    }
}

/// Whether `-h` or `--help` is among the arguments.
pub fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "-h" || a == "--help")
}
