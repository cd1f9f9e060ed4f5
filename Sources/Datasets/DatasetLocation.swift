import Foundation

func fileExists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}

/// Finds the data folder: `--data-dir` if given, else the first of $TRAINER_DATA_DIR, ./data and
/// /usr/share/datasets that holds the data set's sub-folder.
public enum DatasetLocation {
    /// The folders searched when no data folder is given, in order.
    public static func defaultRoots(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var roots: [String] = []
        if let fromEnvironment = environment["TRAINER_DATA_DIR"], !fromEnvironment.isEmpty { roots.append(fromEnvironment) }
        roots += ["./data", "/usr/share/datasets"]
        return roots
    }

    /// The folders downloads may go to when none is given: the default roots except /usr/share/datasets,
    /// which belongs to Debian's packages.
    public static func downloadRoots(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        defaultRoots(environment: environment).filter { $0 != "/usr/share/datasets" }
    }

    /// The first download root that exists and is writable, or does not exist yet but could be created
    /// (its parent is writable): where `trainer download` puts files when no data folder is given.
    public static func writableRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        downloadRoots(environment: environment).first { root in
            if fileExists(root) { return access(root, W_OK) == 0 }
            let parent = (root as NSString).deletingLastPathComponent
            return access(parent.isEmpty ? "." : parent, W_OK) == 0
        }
    }

    /// The folder `subfolder` inside the explicit root, or inside the first default root that has it.
    public static func folder(_ subfolder: String, dataDirectory: String?,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let dataDirectory {
            let folder = dataDirectory + "/" + subfolder
            guard fileExists(folder) else {
                throw DatasetError(path: folder, reason: "no such folder (--data-dir \(dataDirectory) should hold \(subfolder)/)")
            }
            return folder
        }
        let roots = defaultRoots(environment: environment)
        for root in roots where fileExists(root + "/" + subfolder) { return root + "/" + subfolder }
        throw DatasetError(path: subfolder, reason: "not found in \(roots.joined(separator: ", ")); pass --data-dir or set TRAINER_DATA_DIR"
                           + (subfolder == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)" : ""))
    }
}
